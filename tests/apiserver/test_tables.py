"""The Table the API server serves: row conditions come from the one printer."""

from kubetui.apiserver import tables

NOW = 1_800_000_000.0


def test_finished_pods_rows_carry_completed_condition():
    """printPod sets ``podSuccessConditions``/``podFailedConditions``; kubectl reads them from the row."""
    done = {"metadata": {"name": "job-x", "namespace": "default"}, "spec": {"containers": [{"name": "c"}]},
            "status": {"phase": "Succeeded"}}
    running = {"metadata": {"name": "web", "namespace": "default"}, "spec": {"containers": [{"name": "c"}]},
               "status": {"phase": "Running"}}
    t = tables.to_table("pods", [done, running], NOW)
    assert t["rows"][0]["conditions"] == [{"type": "Completed", "status": "True", "reason": "Succeeded",
                                           "message": "The pod has completed successfully."}]
    assert "conditions" not in t["rows"][1]
