from typing import AbstractSet, Any, Dict, Optional

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
