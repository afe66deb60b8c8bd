from contextvars import ContextVar
from typing import AbstractSet, Any, Callable, Dict, List, Mapping, Optional, Union

from .levels import LogLevel
from .record import LogRecord

def encode_record(
    time_ns: int,
    level: str,
    logger: str,
    message: str,
    static: Dict[str, Any],
    context: Dict[str, Any],
    data: Dict[str, Any],
    reserved: AbstractSet[str],
    /,
) -> Optional[bytes]: ...
def init_records(record_type: type[LogRecord], context_var: ContextVar[Dict[str, Any]], /) -> None: ...
def make_record(
    level: Union[LogLevel, int],
    logger_name: str,
    message: str,
    fields: Dict[str, Any],
    bound: Dict[str, Any],
    static: Dict[str, Any],
    process_id: int,
    /,
) -> Optional[LogRecord]: ...
def fields_clean(data: Dict[Any, Any], clean: Dict[Any, Any], /) -> bool: ...
def clean_records(
    records: List[LogRecord],
    clean_values: Dict[Any, Any],
    clean_strings: AbstractSet[str],
    min_text: int,
    ctx_known: Optional[Dict[str, Any]],
    ctx_size: int,
    static_known: Optional[Dict[str, Any]],
    static_size: int,
    /,
) -> List[int]: ...
def unknown_keys(data: Dict[Any, Any], clean: Dict[Any, Any], /) -> List[Any]: ...
def scan_fields(
    data: Dict[Any, Any],
    clean_values: Dict[Any, Any],
    kinds: Dict[Any, int],
    clean_strings: AbstractSet[str],
    min_text: int,
    cache_limit: int,
    cache_max_len: int,
    /,
) -> Optional[List[Any]]: ...
def encode_records(
    records: List[LogRecord],
    reserved: AbstractSet[str],
    level_names: Mapping[int, str],
    fallback: Callable[[LogRecord], bytes],
    /,
) -> bytes: ...
