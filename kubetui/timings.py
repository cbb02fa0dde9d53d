"""Lifecycle timings: Kubernetes' real defaults, and kubetui's fast lab timings.

A real cluster waits 40 s before it calls a silent node NotReady and evicts
its pods 5 minutes later. That is right for production and useless for a
20-minute lesson, so a kubetui cluster starts with *lab* timings where the
same story plays out in seconds; ``kubetui up --timings kubernetes`` gives the
real ones. Both sets are shown side by side so a learner knows the difference.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Timings:
    name: str
    # kubelet: how often it renews its Lease in kube-node-lease (nodeLeaseDurationSeconds/4 upstream)
    node_lease_renew_seconds: float
    # kubelet: lease duration written into the Lease (nodeLeaseDurationSeconds)
    node_lease_duration_seconds: int
    # kubelet: how often it posts Node status (nodeStatusUpdateFrequency)
    node_status_update_seconds: float
    # node lifecycle controller: a node whose lease is older than this is NotReady/Unknown
    # (--node-monitor-grace-period)
    node_monitor_grace_seconds: float
    # node lifecycle controller: how often it checks (--node-monitor-period)
    node_monitor_period_seconds: float
    # default tolerationSeconds for not-ready/unreachable taints added to pods
    # (DefaultTolerationSeconds admission plugin)
    default_toleration_seconds: int
    # kubelet: CrashLoopBackOff starts at this and doubles ...
    crashloop_backoff_initial_seconds: float
    # ... up to this cap
    crashloop_backoff_max_seconds: float
    # scheduler: pod backoff (podInitialBackoffSeconds / podMaxBackoffSeconds)
    scheduler_backoff_initial_seconds: float
    scheduler_backoff_max_seconds: float
    # scheduler: unschedulable pods are retried at least this often (podMaxInUnschedulablePodsDuration)
    scheduler_unschedulable_flush_seconds: float
    # default terminationGracePeriodSeconds (pods may set their own)
    termination_grace_seconds: int
    # deployment controller: default progressDeadlineSeconds
    progress_deadline_seconds: int
    # job controller: a failed pod's replacement waits this long, doubling per failure ...
    job_backoff_initial_seconds: float = 10.0
    # ... up to this cap (the Job docs' "capped at six minutes")
    job_backoff_max_seconds: float = 360.0
    # HPA controller: how often each HPA is synced (--horizontal-pod-autoscaler-sync-period) ...
    hpa_sync_period_seconds: float = 15.0
    # ... how long a scale-down waits for the highest recent recommendation
    # (--horizontal-pod-autoscaler-downscale-stabilization) ...
    hpa_downscale_stabilization_seconds: float = 300.0
    # ... a new pod's CPU samples are doubted for this long (--horizontal-pod-autoscaler-cpu-initialization-period)
    hpa_cpu_initialization_period_seconds: float = 300.0
    # ... and an unready pod that became ready this soon after start counts as never ready
    # (--horizontal-pod-autoscaler-initial-readiness-delay)
    hpa_initial_readiness_delay_seconds: float = 30.0
    # job controller: pod changes wake a Job's sync this much later, so a burst is one sync
    # (upstream's syncJobBatchPeriod)
    job_pod_update_batch_seconds: float = 1.0
    # kubelet: image pull backoff (ImagePullBackOff) starts at this and doubles to the max
    image_pull_backoff_initial_seconds: float = 10.0
    image_pull_backoff_max_seconds: float = 300.0
    # kube-scheduler / kube-controller-manager leader election (--leader-elect-lease-duration,
    # --leader-elect-renew-deadline, --leader-elect-retry-period)
    leader_lease_duration_seconds: float = 15.0
    leader_renew_deadline_seconds: float = 10.0
    leader_retry_period_seconds: float = 2.0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


KUBERNETES = Timings(
    name="kubernetes",
    node_lease_renew_seconds=10.0,
    node_lease_duration_seconds=40,
    node_status_update_seconds=10.0,
    node_monitor_grace_seconds=40.0,
    node_monitor_period_seconds=5.0,
    default_toleration_seconds=300,
    crashloop_backoff_initial_seconds=10.0,
    crashloop_backoff_max_seconds=300.0,
    scheduler_backoff_initial_seconds=1.0,
    scheduler_backoff_max_seconds=10.0,
    scheduler_unschedulable_flush_seconds=300.0,
    termination_grace_seconds=30,
    progress_deadline_seconds=600,
)

LAB = Timings(
    name="lab",
    node_lease_renew_seconds=1.0,
    node_lease_duration_seconds=4,
    node_status_update_seconds=2.0,
    node_monitor_grace_seconds=4.0,
    node_monitor_period_seconds=0.5,
    default_toleration_seconds=5,
    crashloop_backoff_initial_seconds=1.0,
    crashloop_backoff_max_seconds=10.0,
    scheduler_backoff_initial_seconds=0.2,
    scheduler_backoff_max_seconds=2.0,
    scheduler_unschedulable_flush_seconds=10.0,
    termination_grace_seconds=5,
    progress_deadline_seconds=60,
    job_backoff_initial_seconds=1.0,
    job_backoff_max_seconds=10.0,
    hpa_sync_period_seconds=2.0,
    hpa_downscale_stabilization_seconds=15.0,
    hpa_cpu_initialization_period_seconds=10.0,
    hpa_initial_readiness_delay_seconds=5.0,
    job_pod_update_batch_seconds=0.1,
    image_pull_backoff_initial_seconds=2.0,
    image_pull_backoff_max_seconds=20.0,
    leader_lease_duration_seconds=2.0,
    leader_renew_deadline_seconds=1.5,
    leader_retry_period_seconds=0.5,
)

PRESETS = {t.name: t for t in (LAB, KUBERNETES)}
