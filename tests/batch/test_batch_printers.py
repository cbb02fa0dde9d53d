"""Job and CronJob rows, as upstream's printers_test.go (TestPrintJob, TestPrintCronJob) expects them."""

from kubetui.api.printers import printer_for

NOW = 1_700_000_000.0
T = "2023-11-14T22:13:20Z"  # == NOW


def ts(delta: float) -> str:
    import datetime as dt
    return dt.datetime.fromtimestamp(NOW + delta, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def job(**kw):
    spec = {"completions": 2, "parallelism": 1, "selector": {"matchLabels": {"a": "b"}},
            "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}
    spec.update(kw.pop("spec", {}))
    return {"metadata": {"name": "job1", "creationTimestamp": ts(0)}, "spec": spec, "status": kw.get("status", {})}


def row(obj, plural="jobs.batch"):
    return printer_for(plural).row(obj, NOW)


def test_job_rows():
    assert row(job(status={"succeeded": 1}))[:5] == ["job1", "Running", "1/2", "", "0s"]
    done = job(status={"succeeded": 2, "startTime": ts(-20), "completionTime": ts(-10),
                       "conditions": [{"type": "Complete", "status": "True"}]})
    assert row(done)[:4] == ["job1", "Complete", "2/2", "10s"]
    running = job(status={"startTime": ts(-300)})
    assert row(running)[3] == "5m"
    queue = job(spec={"completions": None, "parallelism": 3})
    assert row(queue)[2] == "0/1 of 3"
    assert row(job(status={"conditions": [{"type": "Failed", "status": "True"}]}))[1] == "Failed"
    assert row(job(status={"conditions": [{"type": "Suspended", "status": "True"}]}))[1] == "Suspended"
    assert row(job(status={"conditions": [{"type": "FailureTarget", "status": "True"}]}))[1] == "FailureTarget"
    assert row(job())[5:] == ["c", "busybox", "a=b"]


def test_cronjob_rows():
    cj = {"metadata": {"name": "cronjob1", "creationTimestamp": ts(0)},
          "spec": {"schedule": "0/5 * * * ?", "suspend": False,
                   "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}}},
          "status": {"lastScheduleTime": ts(-10), "active": [{"name": "x"}]}}
    assert row(cj, "cronjobs.batch")[:7] == ["cronjob1", "0/5 * * * ?", "<none>", "False", 1, "10s", "0s"]
    cj["spec"]["timeZone"] = "Asia/Tokyo"
    cj["status"] = {}
    del cj["spec"]["suspend"]
    assert row(cj, "cronjobs.batch")[2:6] == ["Asia/Tokyo", "<unset>", 0, "<none>"]
