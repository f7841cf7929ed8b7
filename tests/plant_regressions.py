"""Plant known regressions one at a time and check that a named test catches each.

    .venv/bin/python tests/plant_regressions.py [--only SUBSTRING]

Each change is made in a scratch copy of the project's files (the working tree is never
touched), where the named tests then run, the package imported from the copy (the CLI
tests' subprocesses too, through PYTHONPATH). A plant is caught only when a test *fails*
(an assertion, or an exception the test did not expect): a plant that does not compile
is BROKEN, a collection or fixture error is ERROR, a test stopped by its timeout is HUNG,
and none of these counts. Where a plant names test ids (``file::test``), one of those
must be the one that failed. Every verdict names the failing test and its first line.
A plant no test notices is a hole in the suite: the script lists it and exits 1. Not part
of `.ci/run` (a few minutes).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: `tests` importable as a package

from tests.scratch import Outcome, outcome, project_copy  # noqa: E402 - after the path is set

PACKAGE = "runai_registry_async"


class Plant(NamedTuple):
    name: str
    module: str
    old: str
    new: str
    tests: tuple[str, ...]


def plant(name: str, module: str, old: str, new: str, *tests: str) -> Plant:
    return Plant(name, module, old, new, tests)


CRAWL, SCHEDULER, AUTH, STREAM = (
    "_crawl.py",
    "_crawl_scheduler.py",
    "_http/_auth.py",
    "_http/_stream.py",
)
RETRY, T_RETRY = "_http/_retry.py", "tests/test_retry.py"
T_CRAWL, T_SCHEDULER = "tests/test_crawl.py", "tests/test_crawl_scheduler.py"
T_AUTH, T_STREAM = "tests/test_auth.py", "tests/test_stream.py"

PLANTS = (
    # issue 15's table
    plant(
        "create_registry never retried, even when no connection was made",
        RETRY,
        "return exc.retryable and (idempotent or exc.connect_failed)",
        "return exc.retryable and idempotent",
        "tests/test_retry.py::test_create_is_retried_when_the_connection_was_never_opened",
    ),
    plant(
        "the per_registry cap deleted",
        SCHEDULER,
        "if self._per_registry is not None and work.in_flight >= self._per_registry:",
        "if False:",
        "tests/test_crawl.py::test_per_registry_holds_the_line_where_nothing_else_does",
    ),
    plant(
        "backoff that never grows",
        "_http/_retry.py",
        "ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))",
        "ceiling = self.base_delay",
        "tests/test_retry.py::test_the_backoff_ceiling_doubles_per_attempt_up_to_max_delay",
    ),
    plant(
        "streams given a total timeout instead of a per-read one",
        "_http/_deadline.py",
        "return aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)",
        "return aiohttp.ClientTimeout(total=seconds, sock_connect=seconds)",
        "tests/test_stream.py::test_a_stream_bounds_each_read_not_the_total",
    ),
    plant(
        "the token refresh margin removed",
        AUTH,
        "max(MIN_TOKEN_REUSE, lifetime - min(_REFRESH_MARGIN, lifetime / 10))",
        "max(MIN_TOKEN_REUSE, lifetime)",
        "tests/test_auth.py::test_50_concurrent_calls_past_the_refresh_point_make_one_token_request",
    ),
    plant(
        "504 no longer retryable",
        "_http/_retry.py",
        "RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})",
        "RETRYABLE_STATUSES = frozenset({429, 502, 503})",
        "tests/test_retry.py::test_a_504_is_retried",
    ),
    plant(
        "a delete's body decoded as a registry",
        "_operations.py",
        '"DELETE", path, REGISTRY, _discard)',
        '"DELETE", path, REGISTRY, read_registry)',
        "tests/test_client.py",
    ),
    plant(
        "timeouts never retried",
        "_http/_failures.py",
        "operation=operation, timed_out=True)",
        "operation=operation, timed_out=True, retryable=False)",
        "tests/test_retry.py::test_a_timed_out_attempt_is_retried",
    ),
    plant(
        "ItemStream.close() a no-op",
        STREAM,
        "        self._response.close()",
        "        pass",
        "tests/test_stream.py::test_breaking_early_closes_the_connection",
    ),
    plant(
        "a stream's error quoting the body",
        STREAM,
        "reason = str(exc)  # a fixed reason and a byte offset, never body text",
        "reason = f'{exc}: {chunk[:200]!r}'",
        "tests/test_stream.py::test_a_stream_s_decode_error_quotes_no_body_text",
    ),
    # the fast converter's inline structure functions against cattrs'
    plant(
        "a null optional string refused",
        "_inline_structure.py",
        'check = f"{value} is not None and {wrong}" if nullable else wrong',
        "check = wrong",
        "tests/test_inline_structure.py",
    ),
    plant(
        "an absent optional field refused",
        "_inline_structure.py",
        'lines.append(f"    {value} = o.get({key})")',
        'lines.append(f"    {value} = o[{key}]")',
        "tests/test_inline_structure.py",
    ),
    plant(
        "True accepted as an int",
        "_inline_structure.py",
        'wrong = f"type({value}) is not k{i}"',
        'wrong = f"not isinstance({value}, k{i})"',
        "tests/test_inline_structure.py",
    ),
    # mutation testing's survivors in _retry
    plant(
        "a decode error retried",
        RETRY,
        "        return idempotent and exc.status in RETRYABLE_STATUSES\n    return False",
        "        return idempotent and exc.status in RETRYABLE_STATUSES\n    return True",
        T_RETRY,
    ),
    plant(
        "a naive HTTP-date read as local time",
        RETRY,
        "when = when.replace(tzinfo=timezone.utc)",
        "when = when.replace(tzinfo=None)",
        T_RETRY,
    ),
    plant(
        "exactly no time left lets a final error through",
        RETRY,
        "or deadline.left() <= 0):",
        "or deadline.left() < 0):",
        T_RETRY,
    ),
    plant(
        "a wait exactly as long as the time left started",
        RETRY,
        "wait >= deadline.left():",
        "wait > deadline.left():",
        T_RETRY,
    ),
    plant(
        "a deadline before the first try given a last error",
        RETRY,
        "previous: RunaiError | None = None",
        "previous: RunaiError | None = TransportError('x')",
        T_RETRY,
    ),
    plant(
        "'1 attempts'",
        "_http/_deadline.py",
        "tries = f\"{attempts} attempt{'s' if attempts != 1 else ''}\"",
        'tries = f"{attempts} attempts"',
        T_RETRY,
    ),
    plant(
        "the retry log line repeating the operation",
        RETRY,
        'return str(exc).removeprefix(f"{exc.operation}: ")',
        "return str(exc)",
        T_RETRY,
    ),
    # mutation testing's survivors in _crawl, _crawl_scheduler and _channel
    plant(
        "adaptive concurrency forced on",
        CRAWL,
        "Aimd(self.concurrency) if self.adaptive and not adapts_rate else None",
        "Aimd(self.concurrency)",
        T_CRAWL,
    ),
    plant(
        "the adaptive limit not handed to the scheduler",
        CRAWL,
        "per_registry=self.per_registry, aimd=self._aimd",
        "per_registry=self.per_registry, aimd=None",
        T_CRAWL,
    ),
    plant(
        "workers cancelled but not awaited",
        CRAWL,
        "await asyncio.gather(*tasks, return_exceptions=True)",
        "await asyncio.gather(return_exceptions=True)",
        T_CRAWL,
    ),
    plant(
        "elapsed not frozen at the end",
        CRAWL,
        "self.stats._ended = time.monotonic()",
        "self.stats._ended = None",
        T_CRAWL,
    ),
    plant(
        "TagCrawl.aclose() a no-op",
        "_crawl_results.py",
        "            await generator.aclose()",
        "            pass",
        T_CRAWL,
    ),
    plant(
        "aclose() before iterating calls None",
        "_crawl_results.py",
        "generator = self._generator() if self._generator is not None else None\n"
        "        if generator is not None:",
        "generator = self._generator()\n        if generator is not None:",
        T_CRAWL,
    ),
    plant(
        "a stepped crawl cannot be finished by a loop",
        "_crawl_results.py",
        "generator = self._generator() if self._generator is not None else None\n"
        "        if generator is None:",
        "generator = None\n        if generator is None:",
        T_CRAWL,
    ),
    plant(
        "the per-registry rate wait unbounded by the deadline",
        CRAWL,
        "await work.limiter.acquire(deadline, ",
        "await work.limiter.acquire(None, ",
        T_CRAWL,
    ),
    plant(
        "the repositories call without the crawl's deadline",
        CRAWL,
        "options = client._options(None, deadline, self.retry)",
        "options = client._options(None, None, self.retry)",
        T_CRAWL,
    ),
    plant(
        "an empty registry's result without its name",
        CRAWL,
        "return CrawlTags(work.id, work.name, None, []), []",
        "return CrawlTags(work.id, None, None, []), []",
        T_CRAWL,
    ),
    plant(
        "a failure without the registry's name",
        CRAWL,
        "= CrawlFailure(work.id, work.name, repository, exc)",
        "= CrawlFailure(work.id, None, repository, exc)",
        T_CRAWL,
    ),
    plant(
        "errors counted as one",
        CRAWL,
        "stats.errors += 1",
        "stats.errors = 1",
        T_CRAWL,
    ),
    plant(
        "a job at exactly no time left allowed",
        CRAWL,
        "        if left <= 0:\n            raise until.exceeded",
        "        if left < 0:\n            raise until.exceeded",
        T_CRAWL,
    ),
    plant(
        "the deadline error of a job without its registry",
        CRAWL,
        "self._time_left(until, work, repository)",
        "self._time_left(until, None, repository)",
        T_CRAWL,
    ),
    plant(
        "default concurrency 33",
        CRAWL,
        "    concurrency: int = 64,",
        "    concurrency: int = 65,",
        T_CRAWL,
    ),
    plant(
        "repositories without tags skipped by default",
        CRAWL,
        "    skip_empty: bool = False,\n) -> TagCrawl",
        "    skip_empty: bool = True,\n) -> TagCrawl",
        T_CRAWL,
    ),
    plant(
        "concurrency=True accepted",
        CRAWL,
        "if isinstance(concurrency, bool) or not",
        "if isinstance(concurrency, bool) and not",
        T_CRAWL,
    ),
    plant(
        "deadline=0 accepted",
        CRAWL,
        "or not deadline > 0",
        "or not deadline >= 0",
        T_CRAWL,
    ),
    plant(
        "adaptive=False ignored",
        CRAWL,
        "            adaptive=bool(adaptive),\n",
        "",
        T_CRAWL,
    ),
    plant(
        "the crawl's tasks unnamed",
        CRAWL,
        "return asyncio.create_task(work, name=TASK_NAME)",
        "return asyncio.create_task(work)",
        T_CRAWL,
    ),
    plant(
        "a registry at its cap ends the search for a job",
        SCHEDULER,
        "                continue\n            repository",
        "                break\n            repository",
        T_SCHEDULER,
    ),
    plant(
        "a finished job frees two slots of the adaptive limit",
        SCHEDULER,
        "        self._in_flight -= 1",
        "        self._in_flight -= 2",
        T_SCHEDULER,
    ),
    # mutation testing's survivors in _auth
    plant(
        "a token answer that is not an object read as one",
        AUTH,
        "Secret(data.get(token_key) if isinstance(data, dict) else None)",
        "Secret(data.get(token_key))",
        T_AUTH,
    ),
    plant(
        "a boolean expiresIn read as a lifetime",
        AUTH,
        "if isinstance(expires, (int, float)) and not isinstance(expires, bool)",
        "if isinstance(expires, (int, float))",
        T_AUTH,
    ),
    plant(
        "a token request without its own timeout",
        AUTH,
        '"POST", path, body, content_type, timeout=timeout',
        '"POST", path, body, content_type, timeout=None',
        T_AUTH,
    ),
    plant(
        "the client's timeout not handed to the token fetch",
        AUTH,
        "lambda: credentials._fetch(transport, timeout)",
        "lambda: credentials._fetch(transport, None)",
        T_AUTH,
    ),
    plant(
        "a fetch nobody awaits leaves its exception unretrieved",
        AUTH,
        "            inflight.add_done_callback(_retrieve)\n",
        "",
        T_AUTH,
    ),
    plant(
        "a static token dropped",
        AUTH,
        "return AuthFlow(TokenCache(None, token))",
        "return AuthFlow(TokenCache(None, None))",
        T_AUTH,
    ),
    plant(
        "the token cache's repr inverted",
        AUTH,
        "has_token={self._token is not None}",
        "has_token={self._token is None}",
        "tests/test_auth.py::test_the_cache_s_repr_says_whether_it_holds_a_token_never_which",
    ),
    plant(
        "an unusable token answer's error without its operation",
        AUTH,
        'raise DecodeError(f"{operation}: {found}", operation=operation)',
        'raise DecodeError(f"POST {path}: {found}", operation="")',
        T_AUTH,
    ),
    # mutation testing's survivors in _stream
    plant(
        "a stream's reads not bounded by its deadline",
        STREAM,
        "self._response.content.read(CHUNK_SIZE), max(0.0, deadline.left())",
        "self._response.content.read(CHUNK_SIZE), None",
        T_STREAM,
    ),
    plant(
        "a spent deadline still waits a second for data",
        STREAM,
        "max(0.0, deadline.left())",
        "max(1.0, deadline.left())",
        T_STREAM,
    ),
    plant(
        "exactly no time left reported as a broken body",
        STREAM,
        "deadline.left() <= 0:",
        "deadline.left() < 0:",
        T_STREAM,
    ),
    plant(
        "a broken body with time left reported as a deadline",
        STREAM,
        "deadline.left() <= 0:",
        "deadline.left() <= 1:",
        T_STREAM,
    ),
    plant(
        "the stream's deadline error counting 2 attempts",
        STREAM,
        "deadline.exceeded(self._operation, 1, None)",
        "deadline.exceeded(self._operation, 2, None)",
        T_STREAM,
    ),
    plant(
        "the stream's errors without their operation",
        STREAM,
        "        self._operation = operation\n",
        '        self._operation = ""\n',
        T_STREAM,
    ),
    # the request path in one coroutine, and the shorter paths of the next session
    plant(
        "a try's deadline clips the request's timeout but not the token fetch's",
        "_http/_auth.py",
        "token = tokens.current() or await tokens.get(limit)",
        "token = tokens.current() or await tokens.get(seconds)",
        "tests/test_deadlines.py",
    ),
    plant(
        "Aimd's short path taken while a decrease is still remembered",
        "_http/_adaptive.py",
        "if self.limit == self.ceiling and self._since_decrease > self.ceiling:",
        "if self.limit == self.ceiling:",
        "tests/test_adaptive.py",
    ),
    plant(
        "a crawl job's throttling not told to the adaptive limit",
        CRAWL,
        "                        if signal.seen:",
        "                        if False:",
        "tests/test_ratelimit.py",
    ),
    plant(
        "a registry with no repository not reported as empty",
        CRAWL,
        "                return CrawlTags(work.id, work.name, None, []), []",
        "                return None, []",
        T_CRAWL,
    ),
    plant(
        "a registry whose repositories arrive not made ready again",
        SCHEDULER,
        "            self._ready[work.id] = work\n        elif",
        "        elif",
        T_SCHEDULER,
    ),
    plant(
        "a registry with nothing left to give kept among the ready ones",
        SCHEDULER,
        "                del self._ready[work.id]  # nothing to give until its repositories arrive",
        "                self._ready.move_to_end(work.id)",
        T_SCHEDULER,
    ),
    plant(
        "a plain body over max_response_bytes read whole because it has a Content-Length",
        "_http/_transport.py",
        " and hdrs.CONTENT_ENCODING not in headers and int(length) <= limit:",
        " and hdrs.CONTENT_ENCODING not in headers:",
        "tests/test_transport.py",
    ),
    # Stream: .batches(), one way of iterating, arguments checked at the call
    plant(
        "batches() handing out items instead of lists",
        "_http/_requester.py",
        "                    if batched:\n",
        "                    if False:\n",
        T_STREAM,
    ),
    plant(
        "a stream's items counted after its consumer had the batch",
        "_http/_requester.py",
        "                    yielded += len(batch)  # counted first: "
        "the consumer may change the list\n"
        "                    if batched:\n"
        "                        yield batch\n"
        "                    else:\n"
        "                        for item in batch:\n"
        "                            yield item\n",
        "                    if batched:\n"
        "                        yield batch\n"
        "                    else:\n"
        "                        for item in batch:\n"
        "                            yield item\n"
        "                    yielded += len(batch)\n",
        T_STREAM,
    ),
    plant(
        "a stream's deadline checked only once it is iterated",
        "_operations.py",
        'None if deadline is None else checked_timeout(deadline, "deadline"),',
        "deadline,",
        T_STREAM,
    ),
    plant(
        "a stream's retry policy checked only once it is iterated",
        "_operations.py",
        "            settings.policy_of(retry),",
        "            retry,",
        T_STREAM,
    ),
    plant(
        "a stream's deadline counted from the call, not from the iteration",
        "_http/_requester.py",
        "            whole = None if deadline is None else Deadline(float(deadline))\n",
        "            whole = None if deadline is None else Deadline(float(deadline) - 0.6)\n",
        T_STREAM,
    ),
    plant(
        "a stream iterated both ways at once",
        STREAM,
        "        elif batched != self._batched:",
        "        elif False:",
        T_STREAM,
    ),
    plant(
        "a stream closed before its iteration still sending its request",
        STREAM,
        "        if self._open is None:\n            return _ended()",
        "        if False:\n            return _ended()",
        T_STREAM,
    ),
    plant(
        "a watch poll keeping one tag of each batch",
        "_watch.py",
        "                tags.update(batch)\n",
        "                tags.update(batch[:1])\n",
        "tests/test_watch.py",
    ),
)


def run(only: str | None) -> int:
    chosen = [p for p in PLANTS if only is None or only in p.name]
    missed: list[str] = []
    scratch = str(project_copy())
    try:
        copy = Path(scratch) / PACKAGE
        env = {**os.environ, "PYTHONPATH": scratch}
        selected = sorted({test for planted in chosen for test in planted.tests})
        baseline = outcome(selected, scratch, env)
        if baseline.verdict != "MISSED":
            print(f"the selected tests do not pass with nothing planted: {baseline.detail}")
            return 2
        for planted in chosen:
            target = copy / planted.module
            original = target.read_text()
            if original.count(planted.old) != 1:
                result = Outcome("STALE", "the code to change is not there exactly once")
            else:
                changed = original.replace(planted.old, planted.new)
                try:
                    compile(changed, str(target), "exec")
                except SyntaxError as exc:
                    result = Outcome("BROKEN", f"the planted code does not compile: {exc}")
                else:
                    target.write_text(changed)
                    try:
                        result = outcome(planted.tests, scratch, env)
                    finally:
                        target.write_text(original)
            print(
                f"{result.verdict:7} {planted.name}"
                + (f"\n        {result.detail}" if result.detail else "")
            )
            if result.verdict != "caught":
                missed.append(planted.name)
    finally:
        shutil.rmtree(scratch)
    print(f"{len(chosen) - len(missed)} of {len(chosen)} caught")
    return 1 if missed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="plant only the changes whose name contains this")
    sys.exit(run(parser.parse_args().only))


if __name__ == "__main__":
    main()
