//! A protobuf encoder for the ONNX subset `signet_piper::onnx` decodes, used to build
//! synthetic models and to re-serialize modified copies of the real voice.

use signet_piper::onnx::{AttributeValue, Model, Node, Tensor};

fn varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn key(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, u64::from(field) << 3 | u64::from(wire));
}

fn bytes(out: &mut Vec<u8>, field: u32, body: &[u8]) {
    key(out, field, 2);
    varint(out, body.len() as u64);
    out.extend_from_slice(body);
}

fn int(out: &mut Vec<u8>, field: u32, v: i64) {
    key(out, field, 0);
    varint(out, v as u64);
}

fn packed_ints(out: &mut Vec<u8>, field: u32, values: &[i64]) {
    let mut body = Vec::new();
    for v in values {
        varint(&mut body, *v as u64);
    }
    bytes(out, field, &body);
}

fn packed_floats(out: &mut Vec<u8>, field: u32, values: &[f32]) {
    let body: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    bytes(out, field, &body);
}

pub fn tensor(t: &Tensor<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    if !t.dims.is_empty() {
        packed_ints(&mut out, 1, &t.dims);
    }
    int(&mut out, 2, i64::from(t.data_type));
    if !t.float_data.is_empty() {
        packed_floats(&mut out, 4, &t.float_data);
    }
    bytes(&mut out, 8, t.name.as_bytes());
    if let Some(raw) = t.raw_data {
        bytes(&mut out, 9, raw);
    }
    if t.external {
        int(&mut out, 14, 1);
    }
    out
}

pub fn node(n: &Node<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    for i in &n.inputs {
        bytes(&mut out, 1, i.as_bytes());
    }
    for o in &n.outputs {
        bytes(&mut out, 2, o.as_bytes());
    }
    bytes(&mut out, 3, n.name.as_bytes());
    bytes(&mut out, 4, n.op_type.as_bytes());
    for a in &n.attributes {
        let mut body = Vec::new();
        bytes(&mut body, 1, a.name.as_bytes());
        match &a.value {
            AttributeValue::Int(v) => {
                int(&mut body, 3, *v);
                int(&mut body, 20, 2);
            }
            AttributeValue::Ints(v) => {
                packed_ints(&mut body, 8, v);
                int(&mut body, 20, 7);
            }
            AttributeValue::Float(v) => {
                key(&mut body, 2, 5);
                body.extend_from_slice(&v.to_le_bytes());
                int(&mut body, 20, 1);
            }
            AttributeValue::Floats(v) => {
                packed_floats(&mut body, 7, v);
                int(&mut body, 20, 6);
            }
            AttributeValue::Other(kind) => int(&mut body, 20, *kind),
            _ => unreachable!("unknown attribute kind"),
        }
        bytes(&mut out, 5, &body);
    }
    if !n.domain.is_empty() {
        bytes(&mut out, 7, n.domain.as_bytes());
    }
    out
}

/// Serializes `m` with the graph and the opset last, so that every truncation is invalid.
pub fn model(m: &Model<'_>) -> Vec<u8> {
    let mut graph = Vec::new();
    for n in &m.graph.nodes {
        bytes(&mut graph, 1, &node(n));
    }
    bytes(&mut graph, 2, m.graph.name.as_bytes());
    for t in &m.graph.initializers {
        bytes(&mut graph, 5, &tensor(t));
    }
    for (field, names) in [(11, &m.graph.inputs), (12, &m.graph.outputs)] {
        for name in names {
            let mut vi = Vec::new();
            bytes(&mut vi, 1, name.as_bytes());
            bytes(&mut graph, field, &vi);
        }
    }
    let mut out = Vec::new();
    int(&mut out, 1, m.ir_version);
    bytes(&mut out, 2, m.producer_name.as_bytes());
    bytes(&mut out, 7, &graph);
    for (domain, version) in &m.opsets {
        let mut body = Vec::new();
        bytes(&mut body, 1, domain.as_bytes());
        int(&mut body, 2, *version);
        bytes(&mut out, 8, &body);
    }
    out
}
