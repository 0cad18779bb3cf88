//! Bounds on everything a checkpoint can make the reader hold.

/// Bounds on a checkpoint. The defaults fit Coqui's published models (the largest, with
/// optimizer state, is a few GiB) with a wide margin; a file past any of them is refused with
/// the limit's name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Bytes of one pickle (`data.pkl`, or one pickle of the legacy stream).
    pub max_pickle_bytes: u64,
    /// Objects one pickle may create (every opcode that pushes a value creates one).
    pub max_objects: u64,
    /// Entries in the pickle memo.
    pub max_memo: u64,
    /// Values on the pickle stack, and marks on the mark stack.
    pub max_stack: u64,
    /// Bytes of one string or bytes value.
    pub max_string_bytes: u64,
    /// Bytes of one long integer (`LONG1`/`LONG4`).
    pub max_long_bytes: u64,
    /// Nesting depth of the value tree the pickle builds.
    pub max_depth: u64,
    /// Values in the tree once shared references are expanded (a "billion laughs" pickle that
    /// repeats one big list through the memo is refused here).
    pub max_values: u64,
    /// Distinct storages (tensor data blocks).
    pub max_storages: u64,
    /// Tensors.
    pub max_tensors: u64,
    /// Elements of one tensor, and of one storage.
    pub max_tensor_elements: u64,
    /// Dimensions of one tensor.
    pub max_dims: u64,
    /// Entries in the zip archive.
    pub max_zip_entries: u64,
    /// Bytes of one entry name.
    pub max_entry_name_bytes: u64,
    /// Bytes of all tensors materialized together.
    pub max_total_tensor_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_pickle_bytes: 256 << 20,
            max_objects: 16_000_000,
            max_memo: 4_000_000,
            max_stack: 1_000_000,
            max_string_bytes: 64 << 20,
            max_long_bytes: 64,
            max_depth: 100,
            max_values: 32_000_000,
            max_storages: 200_000,
            max_tensors: 200_000,
            max_tensor_elements: 1 << 32,
            max_dims: 16,
            max_zip_entries: 200_016,
            max_entry_name_bytes: 1024,
            max_total_tensor_bytes: 16 << 30,
        }
    }
}
