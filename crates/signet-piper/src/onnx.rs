//! The subset of the ONNX format the importer reads, decoded as data.
//!
//! `ModelProto` → `GraphProto` (nodes, initializers, graph inputs and outputs) → `NodeProto`
//! (name, op type, inputs, outputs, integer and float attributes) and `TensorProto` (name, dims,
//! data type, `raw_data` borrowed from the input, `float_data`). Everything else is skipped
//! unread. Singular fields that appear twice are refused rather than merged, as are features the
//! importer cannot honour safely: external data, sparse initializers and segmented tensors.

use crate::error::PiperError;
use crate::proto::{Reader, Value};

/// Most nodes accepted in a graph.
pub const MAX_NODES: usize = 1 << 17;
/// Most initializers accepted in a graph.
pub const MAX_INITIALIZERS: usize = 1 << 16;
/// Most entries accepted in one repeated field of a node or tensor (inputs, dims, ints, ...).
pub const MAX_LIST: usize = 1 << 16;

/// Bytes of decoded structure (node, attribute, tensor and list entries, counted at twice their
/// in-memory size to cover a vector's spare capacity) allowed per byte of input, on top of
/// [`STRUCTURE_SLACK`]. A protobuf entry takes at least two bytes of the file while its decoded
/// form takes 16 to 120, so a file of empty entries could otherwise make the importer allocate
/// many times its own size; an honest model is mostly weights, which are borrowed, not copied.
pub const STRUCTURE_PER_INPUT_BYTE: usize = 4;
/// Decoded structure allowed whatever the input's size.
pub const STRUCTURE_SLACK: usize = 1 << 20;

/// ONNX `TensorProto.DataType.FLOAT`.
pub const DATA_TYPE_FLOAT: i32 = 1;

/// A decoded `ModelProto`.
#[derive(Debug, Clone, Default)]
pub struct Model<'a> {
    /// `ir_version`.
    pub ir_version: i64,
    /// `producer_name`.
    pub producer_name: &'a str,
    /// `opset_import` as `(domain, version)` pairs.
    pub opsets: Vec<(&'a str, i64)>,
    /// The main graph.
    pub graph: Graph<'a>,
}

/// A decoded `GraphProto`.
#[derive(Debug, Clone, Default)]
pub struct Graph<'a> {
    /// `name`.
    pub name: &'a str,
    /// `node`, in file order.
    pub nodes: Vec<Node<'a>>,
    /// `initializer`, in file order.
    pub initializers: Vec<Tensor<'a>>,
    /// Names of the graph inputs.
    pub inputs: Vec<&'a str>,
    /// Names of the graph outputs.
    pub outputs: Vec<&'a str>,
}

/// A decoded `NodeProto`.
#[derive(Debug, Clone, Default)]
pub struct Node<'a> {
    /// `name`, e.g. `/flow/flows.0/enc/in_layers.0/Conv`.
    pub name: &'a str,
    /// `op_type`, e.g. `Conv`.
    pub op_type: &'a str,
    /// `domain` (empty for the default ONNX domain).
    pub domain: &'a str,
    /// Input value names; an empty string marks an omitted optional input.
    pub inputs: Vec<&'a str>,
    /// Output value names.
    pub outputs: Vec<&'a str>,
    /// Attributes.
    pub attributes: Vec<Attribute<'a>>,
}

impl Node<'_> {
    /// The attribute called `name`, if present.
    pub fn attribute(&self, name: &str) -> Option<&AttributeValue> {
        self.attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| &a.value)
    }

    /// The integer list attribute `name` (`dilations`, `strides`, `pads`, `kernel_shape`).
    pub fn ints(&self, name: &str) -> Option<&[i64]> {
        match self.attribute(name)? {
            AttributeValue::Ints(v) => Some(v),
            _ => None,
        }
    }

    /// The integer attribute `name` (`group`).
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.attribute(name)? {
            AttributeValue::Int(v) => Some(*v),
            _ => None,
        }
    }
}

/// A decoded `AttributeProto`.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute<'a> {
    /// `name`.
    pub name: &'a str,
    /// The value, for the kinds the importer reads.
    pub value: AttributeValue,
}

/// Value of an attribute.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AttributeValue {
    /// `INT`.
    Int(i64),
    /// `INTS`.
    Ints(Vec<i64>),
    /// `FLOAT`.
    Float(f32),
    /// `FLOATS`.
    Floats(Vec<f32>),
    /// Any other kind (strings, tensors, graphs), identified by its `AttributeType` number; its
    /// contents are not decoded.
    Other(i64),
}

/// A decoded `TensorProto`.
#[derive(Clone, Default, PartialEq)]
pub struct Tensor<'a> {
    /// `name`.
    pub name: &'a str,
    /// `dims` (may be negative in a malformed file; checked by the importer).
    pub dims: Vec<i64>,
    /// `data_type` (1 is FLOAT).
    pub data_type: i32,
    /// `raw_data`, borrowed from the file.
    pub raw_data: Option<&'a [u8]>,
    /// `float_data`.
    pub float_data: Vec<f32>,
    /// Whether the tensor declares external data (which is never read).
    pub external: bool,
}

impl std::fmt::Debug for Tensor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Data is summarized: parameters are megabytes.
        f.debug_struct("Tensor")
            .field("name", &self.name)
            .field("dims", &self.dims)
            .field("data_type", &self.data_type)
            .field("raw_data_bytes", &self.raw_data.map(<[u8]>::len))
            .field("float_data_len", &self.float_data.len())
            .field("external", &self.external)
            .finish()
    }
}

fn dup(what: &'static str, field: &str) -> PiperError {
    PiperError::MalformedOnnx {
        context: what,
        reason: format!("singular field `{field}` appears more than once"),
    }
}

fn set_once<T>(
    slot: &mut Option<T>,
    value: T,
    what: &'static str,
    field: &str,
) -> Result<(), PiperError> {
    if slot.is_some() {
        return Err(dup(what, field));
    }
    *slot = Some(value);
    Ok(())
}

/// What is left of the structure allowance of one file (see [`STRUCTURE_PER_INPUT_BYTE`]).
struct Budget {
    left: std::cell::Cell<usize>,
    total: usize,
}

impl Budget {
    fn for_input(len: usize) -> Self {
        let total = len
            .saturating_mul(STRUCTURE_PER_INPUT_BYTE)
            .saturating_add(STRUCTURE_SLACK);
        Self {
            left: std::cell::Cell::new(total),
            total,
        }
    }

    /// Charges `count` entries of `T` (at twice their size, for spare capacity).
    fn charge<T>(&self, count: usize, what: &'static str, field: &str) -> Result<(), PiperError> {
        let bytes = count.saturating_mul(2 * std::mem::size_of::<T>().max(1));
        match self.left.get().checked_sub(bytes) {
            Some(left) => {
                self.left.set(left);
                Ok(())
            }
            None => Err(PiperError::MalformedOnnx {
                context: what,
                reason: format!(
                    "the file describes more structure than its size can honestly hold (at \
                     `{field}`: over {} bytes of decoded entries); it is not an ONNX model \
                     Signet can import",
                    self.total
                ),
            }),
        }
    }
}

fn push_limited<T>(
    list: &mut Vec<T>,
    value: T,
    limit: usize,
    budget: &Budget,
    (what, field): (&'static str, &str),
) -> Result<(), PiperError> {
    if list.len() >= limit {
        return Err(PiperError::MalformedOnnx {
            context: what,
            reason: format!("more than {limit} `{field}` entries"),
        });
    }
    budget.charge::<T>(1, what, field)?;
    list.push(value);
    Ok(())
}

/// Charges what a repeated scalar field just appended to `list` (from `before` entries).
fn charge_growth<T>(
    list: &[T],
    before: usize,
    budget: &Budget,
    what: &'static str,
    field: &str,
) -> Result<(), PiperError> {
    budget.charge::<T>(list.len().saturating_sub(before), what, field)
}

/// Decodes a serialized `ModelProto`.
pub fn parse_model(bytes: &[u8]) -> Result<Model<'_>, PiperError> {
    let budget = Budget::for_input(bytes.len());
    let mut r = Reader::new(bytes, "ModelProto");
    let what = r.what();
    let mut model = Model::default();
    let mut graph = None;
    let (mut ir, mut producer) = (None, None);
    while let Some((field, value)) = r.next_field()? {
        match field {
            1 => set_once(
                &mut ir,
                value.varint(what, "ir_version")? as i64,
                what,
                "ir_version",
            )?,
            2 => set_once(
                &mut producer,
                value.string(what, "producer_name")?,
                what,
                "producer_name",
            )?,
            7 => {
                let sub = r.nested(value.bytes(what, "graph")?, "GraphProto")?;
                set_once(&mut graph, parse_graph(sub, &budget)?, what, "graph")?;
            }
            8 => {
                let mut sub = r.nested(value.bytes(what, "opset_import")?, "OperatorSetIdProto")?;
                let (mut domain, mut version) = (None, None);
                while let Some((f, v)) = sub.next_field()? {
                    match f {
                        1 => set_once(
                            &mut domain,
                            v.string(sub.what(), "domain")?,
                            sub.what(),
                            "domain",
                        )?,
                        2 => set_once(
                            &mut version,
                            v.varint(sub.what(), "version")? as i64,
                            sub.what(),
                            "version",
                        )?,
                        _ => {}
                    }
                }
                let entry = (domain.unwrap_or_default(), version.unwrap_or_default());
                push_limited(
                    &mut model.opsets,
                    entry,
                    MAX_LIST,
                    &budget,
                    (what, "opset_import"),
                )?;
            }
            _ => {}
        }
    }
    if !model
        .opsets
        .iter()
        .any(|(domain, _)| domain.is_empty() || *domain == "ai.onnx")
    {
        return Err(PiperError::MalformedOnnx {
            context: what,
            reason: "no opset_import for the default domain".to_owned(),
        });
    }
    model.ir_version = ir.unwrap_or_default();
    model.producer_name = producer.unwrap_or_default();
    model.graph = graph.ok_or_else(|| PiperError::MalformedOnnx {
        context: what,
        reason: "no graph".to_owned(),
    })?;
    Ok(model)
}

fn parse_graph<'a>(mut r: Reader<'a>, budget: &Budget) -> Result<Graph<'a>, PiperError> {
    let what = r.what();
    let mut g = Graph::default();
    let mut name = None;
    while let Some((field, value)) = r.next_field()? {
        match field {
            1 => {
                let sub = r.nested(value.bytes(what, "node")?, "NodeProto")?;
                let node = parse_node(sub, budget)?;
                push_limited(&mut g.nodes, node, MAX_NODES, budget, (what, "node"))?;
            }
            2 => set_once(&mut name, value.string(what, "name")?, what, "name")?,
            5 => {
                let sub = r.nested(value.bytes(what, "initializer")?, "TensorProto")?;
                let tensor = parse_tensor(sub, budget)?;
                push_limited(
                    &mut g.initializers,
                    tensor,
                    MAX_INITIALIZERS,
                    budget,
                    (what, "initializer"),
                )?;
            }
            11 | 12 => {
                let label = if field == 11 { "input" } else { "output" };
                let mut sub = r.nested(value.bytes(what, label)?, "ValueInfoProto")?;
                let mut vname = None;
                while let Some((f, v)) = sub.next_field()? {
                    if f == 1 {
                        set_once(
                            &mut vname,
                            v.string(sub.what(), "name")?,
                            sub.what(),
                            "name",
                        )?;
                    }
                }
                let list = if field == 11 {
                    &mut g.inputs
                } else {
                    &mut g.outputs
                };
                push_limited(
                    list,
                    vname.unwrap_or_default(),
                    MAX_LIST,
                    budget,
                    (what, label),
                )?;
            }
            15 => {
                return Err(PiperError::UnsupportedOnnx {
                    reason: "sparse initializers".to_owned(),
                })
            }
            _ => {}
        }
    }
    g.name = name.unwrap_or_default();
    Ok(g)
}

fn parse_node<'a>(mut r: Reader<'a>, budget: &Budget) -> Result<Node<'a>, PiperError> {
    let what = r.what();
    let mut n = Node::default();
    let (mut name, mut op, mut domain) = (None, None, None);
    while let Some((field, value)) = r.next_field()? {
        match field {
            1 => push_limited(
                &mut n.inputs,
                value.string(what, "input")?,
                MAX_LIST,
                budget,
                (what, "input"),
            )?,
            2 => push_limited(
                &mut n.outputs,
                value.string(what, "output")?,
                MAX_LIST,
                budget,
                (what, "output"),
            )?,
            3 => set_once(&mut name, value.string(what, "name")?, what, "name")?,
            4 => set_once(&mut op, value.string(what, "op_type")?, what, "op_type")?,
            5 => {
                let sub = r.nested(value.bytes(what, "attribute")?, "AttributeProto")?;
                let attribute = parse_attribute(sub, budget)?;
                push_limited(
                    &mut n.attributes,
                    attribute,
                    MAX_LIST,
                    budget,
                    (what, "attribute"),
                )?;
            }
            7 => set_once(&mut domain, value.string(what, "domain")?, what, "domain")?,
            _ => {}
        }
    }
    n.name = name.unwrap_or_default();
    n.op_type = op.unwrap_or_default();
    n.domain = domain.unwrap_or_default();
    Ok(n)
}

fn parse_attribute<'a>(mut r: Reader<'a>, budget: &Budget) -> Result<Attribute<'a>, PiperError> {
    let what = r.what();
    let mut name = None;
    let (mut f, mut i, mut ty) = (None, None, None);
    let mut floats = Vec::new();
    let mut ints = Vec::new();
    let mut other_kind = None;
    while let Some((field, value)) = r.next_field()? {
        match field {
            1 => set_once(&mut name, value.string(what, "name")?, what, "name")?,
            2 => match value {
                Value::Fixed32(bits) => set_once(&mut f, f32::from_bits(bits), what, "f")?,
                _ => {
                    return Err(PiperError::MalformedOnnx {
                        context: what,
                        reason: "field `f` is not a fixed32".to_owned(),
                    })
                }
            },
            3 => set_once(&mut i, value.varint(what, "i")? as i64, what, "i")?,
            7 => {
                let before = floats.len();
                value.push_floats(&mut floats, MAX_LIST, what, "floats")?;
                charge_growth(&floats, before, budget, what, "floats")?;
            }
            8 => {
                let before = ints.len();
                value.push_int64s(&mut ints, MAX_LIST, what, "ints")?;
                charge_growth(&ints, before, budget, what, "ints")?;
            }
            20 => set_once(&mut ty, value.varint(what, "type")? as i64, what, "type")?,
            // s, t, g, strings, tensors, graphs, sparse tensors, type protos: kept opaque.
            4 => other_kind = Some(3),
            5 => other_kind = Some(4),
            6 => other_kind = Some(5),
            9 => other_kind = Some(8),
            10 => other_kind = Some(9),
            11 => other_kind = Some(10),
            _ => {}
        }
    }
    let value = match ty {
        Some(1) => AttributeValue::Float(f.unwrap_or_default()),
        Some(2) => AttributeValue::Int(i.unwrap_or_default()),
        Some(6) => AttributeValue::Floats(floats),
        Some(7) => AttributeValue::Ints(ints),
        Some(other) => AttributeValue::Other(other),
        // Files from before the `type` field: infer from what is present.
        None => match (f, i, other_kind) {
            (Some(v), None, None) if floats.is_empty() && ints.is_empty() => {
                AttributeValue::Float(v)
            }
            (None, Some(v), None) if floats.is_empty() && ints.is_empty() => AttributeValue::Int(v),
            (None, None, None) if ints.is_empty() && !floats.is_empty() => {
                AttributeValue::Floats(floats)
            }
            (None, None, None) if floats.is_empty() => AttributeValue::Ints(ints),
            (_, _, kind) => AttributeValue::Other(kind.unwrap_or(0)),
        },
    };
    Ok(Attribute {
        name: name.unwrap_or_default(),
        value,
    })
}

fn parse_tensor<'a>(mut r: Reader<'a>, budget: &Budget) -> Result<Tensor<'a>, PiperError> {
    let what = r.what();
    let mut t = Tensor::default();
    let (mut name, mut ty, mut raw) = (None, None, None);
    while let Some((field, value)) = r.next_field()? {
        match field {
            1 => {
                let before = t.dims.len();
                value.push_int64s(&mut t.dims, MAX_LIST, what, "dims")?;
                charge_growth(&t.dims, before, budget, what, "dims")?;
            }
            2 => {
                let v = value.varint(what, "data_type")?;
                let v = i32::try_from(v as i64).map_err(|_| PiperError::MalformedOnnx {
                    context: what,
                    reason: format!("data_type {v} out of range"),
                })?;
                set_once(&mut ty, v, what, "data_type")?
            }
            3 => {
                return Err(PiperError::UnsupportedOnnx {
                    reason: "segmented tensors".to_owned(),
                })
            }
            4 => {
                let before = t.float_data.len();
                value.push_floats(&mut t.float_data, usize::MAX, what, "float_data")?;
                charge_growth(&t.float_data, before, budget, what, "float_data")?;
            }
            8 => set_once(&mut name, value.string(what, "name")?, what, "name")?,
            9 => set_once(&mut raw, value.bytes(what, "raw_data")?, what, "raw_data")?,
            13 => t.external = true,
            14 => t.external |= value.varint(what, "data_location")? != 0,
            _ => {}
        }
    }
    t.name = name.unwrap_or_default();
    t.data_type = ty.unwrap_or_default();
    t.raw_data = raw;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(field: u32, wire: u8) -> Vec<u8> {
        varint(u64::from(field) << 3 | u64::from(wire))
    }

    fn varint(mut v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }

    fn ld(field: u32, body: &[u8]) -> Vec<u8> {
        let mut out = key(field, 2);
        out.extend(varint(body.len() as u64));
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn decodes_a_small_model() {
        let mut tensor = ld(8, b"w");
        tensor.extend(key(1, 0));
        tensor.extend(varint(2));
        tensor.extend(ld(1, &[3])); // packed dims
        tensor.extend(key(2, 0));
        tensor.extend(varint(1));
        tensor.extend(ld(9, &[0; 24]));
        let mut attr = ld(1, b"dilations");
        attr.extend(key(20, 0));
        attr.extend(varint(7));
        attr.extend(ld(8, &[2]));
        let mut node = ld(1, b"x");
        node.extend(ld(1, b"w"));
        node.extend(ld(2, b"y"));
        node.extend(ld(3, b"/m/Conv"));
        node.extend(ld(4, b"Conv"));
        node.extend(ld(5, &attr));
        let mut graph = ld(1, &node);
        graph.extend(ld(5, &tensor));
        graph.extend(ld(11, &ld(1, b"x")));
        graph.extend(ld(12, &ld(1, b"y")));
        let mut model = key(1, 0);
        model.extend(varint(8));
        model.extend(ld(7, &graph));
        model.extend(ld(8, &[0x10, 15]));
        let m = parse_model(&model).unwrap();
        assert_eq!(m.ir_version, 8);
        let g = &m.graph;
        assert_eq!(g.inputs, ["x"]);
        assert_eq!(g.outputs, ["y"]);
        assert_eq!(g.nodes[0].op_type, "Conv");
        assert_eq!(g.nodes[0].inputs, ["x", "w"]);
        assert_eq!(g.nodes[0].ints("dilations"), Some(&[2i64][..]));
        assert_eq!(g.initializers[0].dims, [2, 3]);
        assert_eq!(g.initializers[0].raw_data.unwrap().len(), 24);

        assert_eq!(m.opsets, [("", 15)]);
        // The graph and opset come last, so every truncation is refused.
        for len in 0..model.len() {
            assert!(parse_model(&model[..len]).is_err(), "{len}");
        }
        // A second graph is refused, not merged.
        let mut twice = model.clone();
        twice.extend(ld(7, &graph));
        assert!(matches!(
            parse_model(&twice),
            Err(PiperError::MalformedOnnx { .. })
        ));
        // Sparse initializers and external data.
        let mut sparse = model.clone();
        sparse.extend(ld(7, &ld(15, &[])));
        assert!(matches!(
            parse_model(&sparse),
            Err(PiperError::UnsupportedOnnx { .. })
        ));
    }

    #[test]
    fn no_graph_is_an_error() {
        assert!(matches!(
            parse_model(&[]),
            Err(PiperError::MalformedOnnx { .. })
        ));
    }

    /// A model whose one node carries `entries` copies of `entry` (field, body).
    fn model_with_node_entries(field: u32, body: &[u8], entries: usize) -> Vec<u8> {
        let mut node = ld(4, b"Conv");
        for _ in 0..entries {
            node.extend(ld(field, body));
        }
        let mut model = ld(7, &ld(1, &node));
        model.extend(ld(8, &[0x10, 15]));
        model
    }

    #[test]
    fn empty_entries_cannot_make_the_importer_allocate_many_times_the_file() {
        // 2-byte empty `input` and `attribute` entries decode to 16- and 48-byte entries (plus
        // spare capacity): without the budget this 120 KB file built vectors of 1 to 4 MB,
        // 8 to 32 times its size.
        for (field, label) in [(1, "input"), (5, "attribute")] {
            let model = model_with_node_entries(field, b"", 60_000);
            let allowance = model.len() * STRUCTURE_PER_INPUT_BYTE + STRUCTURE_SLACK;
            match parse_model(&model) {
                Err(PiperError::MalformedOnnx { reason, .. }) => {
                    assert!(reason.contains("more structure than its size"), "{reason}");
                    assert!(reason.contains(&allowance.to_string()), "{reason}");
                }
                other => panic!("{label}: {other:?}"),
            }
        }
        // The same number of entries with honest names fits.
        let named =
            model_with_node_entries(1, b"/enc_p/encoder/attn_layers.0/Add_output_0", 60_000);
        assert_eq!(
            parse_model(&named).unwrap().graph.nodes[0].inputs.len(),
            60_000
        );
        // Packed dims: one byte each in the file, eight in memory; within bounds, refused past.
        let mut tensor = ld(8, b"w");
        tensor.extend(ld(1, &vec![1u8; 60_000]));
        let mut model = ld(7, &ld(5, &tensor));
        model.extend(ld(8, &[0x10, 15]));
        assert!(parse_model(&model).is_ok());
        let mut many = ld(8, b"w");
        for _ in 0..40 {
            many.extend(ld(1, &vec![1u8; 65_000 / 40]));
        }
        let mut budget_buster = Vec::new();
        for _ in 0..200 {
            budget_buster.extend(ld(5, &many));
        }
        let mut model = ld(7, &budget_buster);
        model.extend(ld(8, &[0x10, 15]));
        assert!(matches!(
            parse_model(&model),
            Err(PiperError::MalformedOnnx { .. })
        ));
    }
}
