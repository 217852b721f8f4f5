"""The shared token bucket in DynamoDB: its arithmetic, and its behaviour under threads."""

import threading
import time

import pytest

from django_app.rates.errors import RateLimited
from django_app.rates.token_bucket import TokenBucket
from tests.web.conftest import RATE_LIMIT_TABLE

pytestmark = pytest.mark.usefixtures("web_aws")


class FakeClock:
    def __init__(self):
        self.t = 1_800_000_000.0
        self.slept = []

    def now(self):
        return self.t

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.t += seconds


def bucket(clock=None, capacity=3, per_second=1.0, name="api"):
    return TokenBucket(
        RATE_LIMIT_TABLE, name, capacity=capacity, per_second=per_second, clock=clock
    )


def test_a_burst_up_to_capacity_then_a_refusal_that_says_how_long():
    clock = FakeClock()
    limiter = bucket(clock)
    assert [limiter.acquire(max_wait=0) for _ in range(3)] == [0, 0, 0]
    with pytest.raises(RateLimited) as refused:
        limiter.acquire(max_wait=0.5)
    assert refused.value.retry_after == pytest.approx(1.0)
    assert clock.slept == []


def test_a_short_wait_is_slept_through():
    clock = FakeClock()
    limiter = bucket(clock)
    for _ in range(3):
        limiter.acquire(max_wait=0)
    assert limiter.acquire(max_wait=5) == pytest.approx(1.0)
    assert clock.slept == [pytest.approx(1.0)]


def test_tokens_refill_with_time_up_to_capacity():
    clock = FakeClock()
    limiter = bucket(clock, per_second=2.0)
    for _ in range(3):
        limiter.acquire(max_wait=0)
    clock.t += 1.0  # two tokens back
    limiter.acquire(max_wait=0)
    limiter.acquire(max_wait=0)
    with pytest.raises(RateLimited):
        limiter.acquire(max_wait=0)
    clock.t += 3600  # idle for an hour: still only `capacity`
    for _ in range(3):
        limiter.acquire(max_wait=0)
    with pytest.raises(RateLimited):
        limiter.acquire(max_wait=0)


def test_workers_share_one_bucket_by_name():
    clock = FakeClock()
    first, second = bucket(clock), bucket(clock)
    first.acquire(max_wait=0)
    first.acquire(max_wait=0)
    second.acquire(max_wait=0)
    with pytest.raises(RateLimited):
        second.acquire(max_wait=0)
    bucket(clock, name="another-api").acquire(max_wait=0)  # its own tokens


def test_a_pause_holds_every_worker_and_is_never_shortened():
    clock = FakeClock()
    limiter = bucket(clock)
    limiter.pause(5)
    limiter.pause(2)  # a shorter Retry-After does not cut the longer pause
    with pytest.raises(RateLimited) as refused:
        bucket(clock).acquire(max_wait=1)
    assert refused.value.retry_after == pytest.approx(5)
    assert bucket(clock).acquire(max_wait=10) == pytest.approx(5)


def test_settings_are_checked():
    with pytest.raises(ValueError, match="capacity"):
        bucket(capacity=0)
    with pytest.raises(ValueError, match="refill"):
        bucket(per_second=0)


@pytest.fixture
def atomic_requests(monkeypatch):
    """moto checks a write's condition and applies it without a lock; DynamoDB makes
    each request atomic. Serialise moto's item operations, so the race these tests
    exercise is the real one: between a worker's read and its conditional write."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.Lock()
    for name in ("get_item", "put_item", "update_item"):
        original = getattr(DynamoDBBackend, name)

        def locked(self, *args, _original=original, **kwargs):
            with lock:
                return _original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, locked)


def run_threads(count, work):
    start = threading.Barrier(count)
    outcomes = [None] * count

    def run(index):
        start.wait()
        try:
            outcomes[index] = work()
        except RateLimited as refused:
            outcomes[index] = refused

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_concurrent_workers_never_take_more_than_the_bucket_holds(atomic_requests):
    limiter = bucket(capacity=5, per_second=0.0001)
    limiter.pause(0)  # create the client and the item before the threads race
    outcomes = run_threads(16, lambda: limiter.acquire(max_wait=0))
    granted = [o for o in outcomes if not isinstance(o, RateLimited)]
    assert len(granted) == 5
    assert all(isinstance(o, RateLimited) for o in outcomes if o not in granted)


def test_concurrent_workers_are_held_to_the_rate_together(atomic_requests):
    rate, capacity, workers = 25.0, 2, 10
    limiter = bucket(capacity=capacity, per_second=rate)
    limiter.pause(0)

    def take():
        limiter.acquire(max_wait=5)
        return time.time()

    began = time.time()
    grants = sorted(run_threads(workers, take))
    assert all(isinstance(t, float) for t in grants)
    # The n-th grant (from 1) can come no sooner than (n - capacity) / rate seconds in.
    for number, moment in enumerate(grants, start=1):
        assert moment - began >= (number - capacity) / rate - 0.01
