//! Strict tensor loading from a verified bundle, and candle-style tensor paths.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;
use std::ops::Div;

use signet_registry::{Dtype, SafeTensors, TensorView, VerifiedBundle};
use signet_schema::{check_tensors, TensorSpec};
use tch::{Kind, Tensor};

use crate::NnError;

/// The tensors of one verified weights file, compared with the tensors an architecture declares
/// and handed out by name with checked dtype and shape.
///
/// Building one compares the file with the declared list (a [`signet_schema`] listing):
/// a tensor the architecture does not declare, a declared one that is absent, a shape that
/// differs or a dtype other than F32 is refused before any tensor is read. Each tensor may then
/// be taken once; [`finish`](Self::finish) fails on any tensor that was never taken, so model
/// code that drifts from its schema is caught as well.
pub struct Weights<'a> {
    file: SafeTensors<'a>,
    taken: RefCell<BTreeSet<String>>,
}

impl fmt::Debug for Weights<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Weights")
            .field("tensors", &self.file.len())
            .field("taken", &self.taken.borrow().len())
            .finish()
    }
}

impl<'a> Weights<'a> {
    /// Parses the bundle's verified weights file and compares it with `declared` (for a model,
    /// [`ArchitectureSchema::tensors`](signet_schema::ArchitectureSchema::tensors) of its
    /// checked config).
    pub fn from_bundle(
        bundle: &'a VerifiedBundle,
        declared: &[TensorSpec],
    ) -> Result<Self, NnError> {
        Self::from_safetensors(bundle.weights()?, declared)
    }

    /// Wraps an already parsed safetensors file after comparing it with `declared`.
    pub fn from_safetensors(
        file: SafeTensors<'a>,
        declared: &[TensorSpec],
    ) -> Result<Self, NnError> {
        let mut views = Vec::with_capacity(file.len());
        for name in file.names() {
            let view = file.get(name).ok_or_else(|| NnError::MissingTensor {
                name: name.to_owned(),
            })?;
            views.push((name, view));
        }
        check_tensors(
            declared,
            views
                .iter()
                .map(|(name, view)| (*name, view.shape.as_slice())),
        )
        .map_err(NnError::from_schema)?;
        if let Some((name, view)) = views.iter().find(|(_, v)| v.dtype != Dtype::F32) {
            return Err(NnError::WrongDtype {
                tensor: (*name).to_owned(),
                found: view.dtype.to_string(),
            });
        }
        drop(views);
        Ok(Weights {
            file,
            taken: RefCell::new(BTreeSet::new()),
        })
    }

    /// A path at the root of the tensor names.
    pub fn root(&self) -> Path<'_, 'a> {
        Path {
            weights: self,
            prefix: String::new(),
        }
    }

    /// Takes tensor `name`, which must be F32 with exactly `shape`, as a new libtorch tensor.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor, NnError> {
        let view = self.take(name)?;
        if view.dtype != Dtype::F32 {
            return Err(NnError::WrongDtype {
                tensor: name.to_owned(),
                found: view.dtype.to_string(),
            });
        }
        if view.shape != shape {
            return Err(NnError::ShapeMismatch {
                tensor: name.to_owned(),
                expected: shape.to_vec(),
                found: view.shape.clone(),
            });
        }
        to_tensor(&view)
    }

    /// Whether the file holds tensor `name` (taken or not).
    pub fn contains(&self, name: &str) -> bool {
        self.file.get(name).is_some()
    }

    /// Checks that every tensor in the file was taken.
    pub fn finish(self) -> Result<(), NnError> {
        let taken = self.taken.borrow();
        match self.file.names().find(|n| !taken.contains(*n)) {
            Some(name) => Err(NnError::UnexpectedTensor {
                name: name.to_owned(),
            }),
            None => Ok(()),
        }
    }

    fn take(&self, name: &str) -> Result<TensorView<'a>, NnError> {
        let view = self.file.get(name).ok_or_else(|| NnError::MissingTensor {
            name: name.to_owned(),
        })?;
        if !self.taken.borrow_mut().insert(name.to_owned()) {
            return Err(NnError::TensorTakenTwice {
                name: name.to_owned(),
            });
        }
        Ok(view)
    }
}

fn to_tensor(view: &TensorView<'_>) -> Result<Tensor, NnError> {
    let dims: Vec<i64> = view
        .shape
        .iter()
        .map(|&d| i64::try_from(d))
        .collect::<Result<_, _>>()
        .map_err(|_| NnError::Torch {
            message: "tensor dimension out of range".to_owned(),
        })?;
    let t = if cfg!(target_endian = "little") {
        Tensor::f_from_data_size(view.data, &dims, Kind::Float)?
    } else {
        let values: Vec<f32> = view
            .data
            .chunks_exact(4)
            .filter_map(|c| <[u8; 4]>::try_from(c).ok())
            .map(f32::from_le_bytes)
            .collect();
        Tensor::f_from_slice(&values)?.f_reshape(&dims)?
    };
    Ok(t)
}

/// A tensor-name prefix bound to a [`Weights`]; `path / "enc_p" / 0` appends dotted segments.
#[derive(Clone)]
pub struct Path<'w, 'a> {
    weights: &'w Weights<'a>,
    prefix: String,
}

impl fmt::Debug for Path<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Path").field(&self.prefix).finish()
    }
}

impl<'w, 'a> Path<'w, 'a> {
    /// The full name of `leaf` under this path.
    pub fn name(&self, leaf: &str) -> String {
        if self.prefix.is_empty() {
            leaf.to_owned()
        } else {
            format!("{}.{leaf}", self.prefix)
        }
    }

    /// This path's own dotted name (empty at the root).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Takes tensor `leaf` under this path; see [`Weights::get`].
    pub fn get(&self, leaf: &str, shape: &[usize]) -> Result<Tensor, NnError> {
        self.weights.get(&self.name(leaf), shape)
    }

    /// Whether the file holds tensor `leaf` under this path.
    pub fn contains(&self, leaf: &str) -> bool {
        self.weights.contains(&self.name(leaf))
    }

    /// The weights this path reads from.
    pub fn weights(&self) -> &'w Weights<'a> {
        self.weights
    }

    fn push(&self, segment: &str) -> Self {
        Path {
            weights: self.weights,
            prefix: self.name(segment),
        }
    }
}

impl<'w, 'a> Div<&str> for &Path<'w, 'a> {
    type Output = Path<'w, 'a>;
    fn div(self, segment: &str) -> Path<'w, 'a> {
        self.push(segment)
    }
}

impl<'w, 'a> Div<&str> for Path<'w, 'a> {
    type Output = Path<'w, 'a>;
    fn div(self, segment: &str) -> Path<'w, 'a> {
        self.push(segment)
    }
}

impl<'w, 'a> Div<usize> for &Path<'w, 'a> {
    type Output = Path<'w, 'a>;
    fn div(self, index: usize) -> Path<'w, 'a> {
        self.push(&index.to_string())
    }
}

impl<'w, 'a> Div<usize> for Path<'w, 'a> {
    type Output = Path<'w, 'a>;
    fn div(self, index: usize) -> Path<'w, 'a> {
        self.push(&index.to_string())
    }
}
