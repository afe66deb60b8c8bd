"""Masking records: one record (message, fields, context, static fields, the
exception and ``stack_info``), a batch on the worker thread with the compiled
clean check, the cached views of shared context/static dicts, and withholding a
record that cannot be masked. :class:`RecordMasking` is the third layer.

May import: errors, serialize, _report, masking.rules, masking.styles, masking.values.
"""

from __future__ import annotations

from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    Iterable,
    List,
    Optional,
    Sequence,
    Tuple,
)

from .styles import (
    _plain_text,
)

if TYPE_CHECKING:
    from ..record import LogRecord

from .styles import *  # noqa: F403
from .values import ValueMasking


class RecordMasking(ValueMasking):
    """Masking records (see the module docstring)."""

    def __call__(self, record: LogRecord) -> LogRecord:
        # The common record holds nothing to mask and was seen before in parts:
        # its field pairs, context, static fields and message are all cached as
        # clean. Checking that costs a few C-level lookups; anything else takes
        # the full path.
        try:
            data = record.data
            if data and not self._all_clean(data):
                return self._mask_record(record)
            ctx = record.context
            if ctx:
                cached = self._ctx_cache
                if cached[0] is not ctx or cached[1] is not ctx or cached[3] != len(ctx):
                    return self._mask_record(record)
            static = record.static
            if static:
                cached = self._static_cache
                if cached[0] is not static or cached[1] is not static or cached[3] != len(static):
                    return self._mask_record(record)
            message = record.message
            if type(message) is not str or (message not in self._clean and len(message) >= self._min_text):
                return self._mask_record(record)
            name = record.logger_name
            if type(name) is not str or (name not in self._clean and len(name) >= self._min_text):
                return self._mask_record(record)
            if record.exc_info is not None or record.stack_info:
                return self._mask_record(record)
            return record
        except Exception as exc:
            return self._withhold(record, exc)

    def mask_batch(self, records: List[LogRecord], skip: Sequence[int] = ()) -> None:
        """Mask every record of *records* in place (``records[i] = self(records[i])``),
        but those at the indexes in *skip* (already masked). With the compiled
        speedup, one C call picks the records the fast path of :meth:`__call__`
        would pass unchanged, and only the others are looked at in Python."""
        fast = self._clean_records
        indexes: Iterable[int] = range(len(records))
        mask = self.__call__
        if fast is not None:
            ctx, static = self._ctx_cache, self._static_cache
            try:
                indexes = fast(
                    records,
                    self._clean_values,
                    self._clean,
                    self._min_text,
                    ctx[0] if ctx[1] is ctx[0] else None,
                    ctx[3],
                    static[0] if static[1] is static[0] else None,
                    static[3],
                )
            except Exception:
                pass  # every record through __call__
            else:
                # what __call__ would check first was just checked: straight
                # to the full path (which withholds what it cannot mask)
                mask = self._mask_record
        if skip:
            done = set(skip)
            indexes = [i for i in indexes if i not in done]
        for i in indexes:
            records[i] = mask(records[i])

    def _cached_view(self, shared: Dict[str, Any], cache: str) -> Tuple[Any, Tuple[str, ...]]:
        """The masked view of a dict many records share (the context, the static
        fields) and the secrets found in it, remembered in the attribute *cache*
        while the same dict, at the same size, comes back."""
        src, masked, found, size = getattr(self, cache)
        if src is not shared or size != len(shared):
            masked, found = self._shared_dict(shared)
            setattr(self, cache, (shared, masked, found, len(shared)))
        return masked, found

    def _mask_record(self, record: LogRecord) -> LogRecord:
        try:
            echoes: Optional[List[str]] = None
            data = record.data
            if data:
                masked_data = self._dict(data, 0)
                if masked_data is not data:
                    record.data = masked_data
                    echoes = []
                    self._echoes(data, echoes)
            ctx = record.context
            if ctx:
                masked, found = self._cached_view(ctx, "_ctx_cache")
                if masked is not ctx:
                    record.context = masked
                    if found:
                        echoes = [*echoes, *found] if echoes else list(found)
            static = record.static
            if static:
                masked, found = self._cached_view(static, "_static_cache")
                if masked is not static:
                    record.static = masked
                    if found:
                        echoes = [*echoes, *found] if echoes else list(found)
            message = record.message
            if type(message) is not str:
                message = record.message = _plain_text(message)
            if len(message) >= self._min_text and message not in self._clean:
                record.message = self._scan(message)
            if echoes:
                record.message = self._echo(record.message, echoes)
            name = record.logger_name
            if type(name) is not str:
                name = record.logger_name = _plain_text(name)
            if len(name) >= self._min_text and name not in self._clean:
                record.logger_name = self._logger_name(name)
            if record.exc_info is not None:
                view = record.exception
                if view is not None:
                    masked_view = self._exception(view, echoes)
                    if masked_view is not view:
                        record.exception = masked_view
            if record.stack_info:
                record.stack_info = self._echo(self.mask_text(record.stack_info), echoes)
            return record
        except Exception as exc:
            return self._withhold(record, exc)

    def _logger_name(self, name: str) -> str:
        """A logger name, masked as a whole (a JWT holds dots), then as if each
        of its parts began the text: in ``svc.4111111111111111`` the number
        after a dot would otherwise be taken for the tail of a version. The
        parts are the 256 characters after each of the first 32 dots (the
        number shapes are far shorter). Remembered clean only when all is."""
        text = self._scan(name, remember=False)
        pos = text.find(".")
        for _ in range(32):
            if pos < 0:
                break
            window = text[pos + 1 : pos + 257]
            masked = self.mask_text(window)
            if masked is not window:
                text = text[: pos + 1] + masked + text[pos + 257 :]
            pos = text.find(".", pos + 1)
        if text is name:
            self._remember_clean(name)
        return text

    def _shared_dict(self, d: Dict[str, Any]) -> Tuple[Any, Tuple[str, ...]]:
        masked = self._dict(d, 0)
        if masked is d:
            return d, ()
        found: List[str] = []
        self._echoes(d, found)
        return masked, tuple(found)

    def _echo(self, text: str, echoes: Optional[List[str]]) -> str:
        """*text* with the values masked under sensitive keys masked where they recur."""
        if echoes:
            for secret in echoes:
                if secret in text:
                    text = text.replace(secret, self._mask_span("keys", secret))
        return text

    def _exception(self, view: Dict[str, Any], echoes: Optional[List[str]], depth: int = 0) -> Dict[str, Any]:
        out: Optional[Dict[str, Any]] = None
        for key in ("message", "traceback"):
            text = view.get(key)
            if isinstance(text, str):
                masked = self._echo(self.mask_text(text), echoes)
                if masked != text:
                    if out is None:
                        out = dict(view)
                    out[key] = masked
        for key in ("cause", "context"):
            inner = view.get(key)
            if isinstance(inner, dict) and depth < 32:
                masked_inner = self._exception(inner, echoes, depth + 1)
                if masked_inner is not inner:
                    if out is None:
                        out = dict(view)
                    out[key] = masked_inner
        return view if out is None else out

    def _withhold(self, record: LogRecord, exc: BaseException) -> LogRecord:
        """Masking failed: report it and let the record through without its
        content, rather than leak it or drop it. An int too long for str()
        is not a reason: the record is masked again with it marked."""
        from .._report import report
        from ..serialize import defuse_record

        if isinstance(exc, ValueError) and defuse_record(record):
            return self._mask_record(record)  # fails again only for another reason: then withheld

        report("masking", exc)
        withheld = "[withheld: masking failed]"
        record.message = withheld
        record.data = {"masking_error": type(exc).__name__}
        record.context = {}
        record.static = {}
        record.stack_info = None
        if record.exc_info is not None:
            record.exception = {"type": "Exception", "message": withheld, "traceback": withheld, "frames": []}
        return record


