//! The allow-list: the only globals a checkpoint's pickle may name, by exact module and
//! attribute (no trimming, no case folding, no dotted attribute paths, no Python 2 aliases).
//!
//! Each entry is evaluated by Rust code that builds the plain value it stands for; nothing is
//! imported or called. Everything else is refused by name.

use crate::value::Dtype;

/// An allow-listed global.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Allowed {
    /// `collections.OrderedDict`: a dict.
    OrderedDict,
    /// `collections.defaultdict`: a dict (its factory must be None or a builtin type).
    DefaultDict,
    /// `builtins.set`/`frozenset` (callable with a list, as protocol 2 pickles sets), or
    /// `builtins.list`/`dict`/`int`/`float`/`str`/`tuple`/`bool` (only as a defaultdict factory).
    BuiltinType(&'static str),
    /// `torch._utils._rebuild_tensor_v2`: a tensor view of a storage.
    RebuildTensorV2,
    /// `torch._utils._rebuild_parameter`: a parameter is its tensor.
    RebuildParameter,
    /// `torch.<Type>Storage`, `torch.UntypedStorage`: only inside a persistent id.
    StorageClass(Dtype),
    /// `numpy.core.multiarray.scalar` / `numpy._core.multiarray.scalar`: a number.
    NumpyScalar,
    /// `numpy.dtype`: the type of a numpy scalar.
    NumpyDtype,
    /// `_codecs.encode(str, 'latin1')`: how protocol 2 writes bytes.
    CodecsEncode,
}

const BUILTIN_TYPES: &[&str] = &[
    "set",
    "frozenset",
    "list",
    "dict",
    "int",
    "float",
    "str",
    "tuple",
    "bool",
];

/// Every allow-listed `(module, attribute)` pair, for documentation and the scan report.
pub const ALLOW_LIST: &[(&str, &str)] = &[
    ("collections", "OrderedDict"),
    ("collections", "defaultdict"),
    ("builtins", "set | frozenset | list | dict | int | float | str | tuple | bool"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    (
        "torch",
        "FloatStorage | DoubleStorage | HalfStorage | BFloat16Storage | LongStorage | IntStorage | \
         ShortStorage | CharStorage | ByteStorage | BoolStorage | UntypedStorage",
    ),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
];

/// Looks a global up by its exact module and attribute.
pub(crate) fn lookup(module: &str, name: &str) -> Option<Allowed> {
    Some(match (module, name) {
        ("collections", "OrderedDict") => Allowed::OrderedDict,
        ("collections", "defaultdict") => Allowed::DefaultDict,
        ("builtins", n) => Allowed::BuiltinType(BUILTIN_TYPES.iter().find(|t| **t == n)?),
        ("torch._utils", "_rebuild_tensor_v2") => Allowed::RebuildTensorV2,
        ("torch._utils", "_rebuild_parameter") => Allowed::RebuildParameter,
        ("torch", n) => Allowed::StorageClass(Dtype::from_storage_class(n)?),
        ("numpy.core.multiarray" | "numpy._core.multiarray", "scalar") => Allowed::NumpyScalar,
        ("numpy", "dtype") => Allowed::NumpyDtype,
        ("_codecs", "encode") => Allowed::CodecsEncode,
        _ => return None,
    })
}

impl Allowed {
    /// The global's name, `module.attribute`.
    pub(crate) fn qualified_name(self) -> &'static str {
        match self {
            Allowed::OrderedDict => "collections.OrderedDict",
            Allowed::DefaultDict => "collections.defaultdict",
            Allowed::BuiltinType("set") => "builtins.set",
            Allowed::BuiltinType("frozenset") => "builtins.frozenset",
            Allowed::BuiltinType(_) => "builtins type",
            Allowed::RebuildTensorV2 => "torch._utils._rebuild_tensor_v2",
            Allowed::RebuildParameter => "torch._utils._rebuild_parameter",
            Allowed::StorageClass(_) => "torch storage class",
            Allowed::NumpyScalar => "numpy scalar",
            Allowed::NumpyDtype => "numpy.dtype",
            Allowed::CodecsEncode => "_codecs.encode",
        }
    }

    /// Whether `REDUCE` may apply it (storage classes and factory-only types may not).
    pub(crate) fn callable(self) -> bool {
        !matches!(self, Allowed::StorageClass(_))
            && !matches!(self, Allowed::BuiltinType(t) if t != "set" && t != "frozenset")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_are_exact() {
        assert_eq!(
            lookup("collections", "OrderedDict"),
            Some(Allowed::OrderedDict)
        );
        assert_eq!(lookup("collections ", "OrderedDict"), None);
        assert_eq!(lookup("collections", "OrderedDict\r"), None);
        assert_eq!(lookup("torch", "_utils._rebuild_tensor_v2"), None);
        assert_eq!(
            lookup("torch._utils", "_rebuild_parameter_with_state"),
            None
        );
        assert_eq!(lookup("torch", "load"), None);
        assert_eq!(lookup("builtins", "eval"), None);
        assert_eq!(lookup("__builtin__", "set"), None);
        assert_eq!(
            lookup("torch", "FloatStorage"),
            Some(Allowed::StorageClass(Dtype::F32))
        );
    }
}
