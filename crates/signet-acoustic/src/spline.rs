//! Inverse of the monotonic rational-quadratic spline with linear tails used by the stochastic
//! duration predictor's `ConvFlow`.
//!
//! Follows Durkan et al. (2019), "Neural Spline Flows", as used by VITS (Kim et al., 2021,
//! "Conditional Variational Autoencoder with Adversarial Learning for End-to-End
//! Text-to-Speech"), reference implementation jaywalnut310/vits (`transforms.py`,
//! `unconstrained_rational_quadratic_spline` with `tails = "linear"`) and Piper's training code.
//!
//! Upstream evaluates the spline only on inputs inside `[-TAIL_BOUND, TAIL_BOUND]` (boolean
//! indexing) and passes the rest through. Here every element is evaluated, with the bin index
//! clamped so outside elements stay in range, and a `where` keeps the identity outside: the
//! inside values are the same computation.

use tch::{Kind, Tensor};

use crate::AcousticError;

/// Spline bins.
pub use signet_schema::vits::SPLINE_BINS as BINS;
/// Parameters per element: widths, heights and the interior derivatives.
pub use signet_schema::vits::SPLINE_PARAMS as PARAMS;
/// The spline covers `[-TAIL_BOUND, TAIL_BOUND]`; outside it the transform is the identity.
pub const TAIL_BOUND: f64 = 5.0;
const MIN_BIN_WIDTH: f64 = 1e-3;
const MIN_BIN_HEIGHT: f64 = 1e-3;
const MIN_DERIVATIVE: f64 = 1e-3;
/// Added to the last bin edge before locating an input's bin.
const SEARCH_EPS: f64 = 1e-6;

/// Normalized bin sizes and their edges: softmax, floor at `min`, scaled to the interval, with
/// the first and last edge pinned to the interval's ends. Returns (sizes, edges).
fn bins(unnormalized: &Tensor, min: f64) -> Result<(Tensor, Tensor), AcousticError> {
    let n = BINS as i64;
    let sizes = unnormalized
        .f_softmax(-1, Kind::Float)?
        .f_mul_scalar(1.0 - min * BINS as f64)?
        .f_add_scalar(min)?;
    let cum = sizes.f_cumsum(-1, Kind::Float)?;
    let inner = cum
        .f_narrow(-1, 0, n - 1)?
        .f_mul_scalar(2.0 * TAIL_BOUND)?
        .f_add_scalar(-TAIL_BOUND)?;
    let lo = inner.f_narrow(-1, 0, 1)?.f_full_like(-TAIL_BOUND)?;
    let hi = inner.f_narrow(-1, 0, 1)?.f_full_like(TAIL_BOUND)?;
    let edges = Tensor::f_cat(&[&lo, &inner, &hi], -1)?;
    let sizes = edges
        .f_narrow(-1, 1, n)?
        .f_sub(&edges.f_narrow(-1, 0, n)?)?;
    Ok((sizes, edges))
}

/// Inverts the spline for `x` `[..., 1, L]` given `h` `[..., 1, L, PARAMS]` (the projection of
/// the flow's conditioning network) and `sqrt(filter_channels)`, the scale upstream divides the
/// width and height logits by.
pub fn inverse(x: &Tensor, h: &Tensor, sqrt_filter: f64) -> Result<Tensor, AcousticError> {
    let n = BINS as i64;
    let uw = h.f_narrow(-1, 0, n)?.f_div_scalar(sqrt_filter)?;
    let uh = h.f_narrow(-1, n, n)?.f_div_scalar(sqrt_filter)?;
    let ud = h.f_narrow(-1, 2 * n, n - 1)?;
    // Linear tails: the outer derivatives are pinned so that min_derivative + softplus(c) == 1.
    let tail = ((1.0 - MIN_DERIVATIVE).exp() - 1.0).ln();
    let edge = ud.f_narrow(-1, 0, 1)?.f_full_like(tail)?;
    let ud = Tensor::f_cat(&[&edge, &ud, &edge], -1)?;

    let (widths, cumwidths) = bins(&uw, MIN_BIN_WIDTH)?;
    let derivatives = ud.f_softplus()?.f_add_scalar(MIN_DERIVATIVE)?;
    let (heights, cumheights) = bins(&uh, MIN_BIN_HEIGHT)?;

    // Bin of each input among the height edges (the last edge nudged up by SEARCH_EPS).
    let nudge = {
        let mut m = vec![0.0f32; BINS + 1];
        if let Some(last) = m.last_mut() {
            *last = SEARCH_EPS as f32;
        }
        Tensor::f_from_slice(&m)?
    };
    let search = cumheights.f_add(&nudge)?;
    let xs = x.f_unsqueeze(-1)?;
    let idx = xs
        .f_ge_tensor(&search)?
        .f_sum_dim_intlist([-1i64].as_slice(), true, Kind::Int64)?
        .f_sub_scalar(1)?
        .f_clamp(0, n - 1)?;
    let pick = |t: &Tensor| -> Result<Tensor, AcousticError> {
        Ok(t.f_gather(-1, &idx, false)?.f_squeeze_dim(-1)?)
    };

    let in_cumwidths = pick(&cumwidths)?;
    let in_widths = pick(&widths)?;
    let in_cumheights = pick(&cumheights)?;
    let delta = heights.f_div(&widths)?;
    let in_delta = pick(&delta)?;
    let in_d = pick(&derivatives)?;
    let in_d1 = pick(&derivatives.f_narrow(-1, 1, n)?)?;
    let in_heights = pick(&heights)?;

    let dx = x.f_sub(&in_cumheights)?;
    let slope_sum = in_d.f_add(&in_d1)?.f_sub(&in_delta.f_mul_scalar(2.0)?)?;
    let a = dx
        .f_mul(&slope_sum)?
        .f_add(&in_heights.f_mul(&in_delta.f_sub(&in_d)?)?)?;
    let b = in_heights.f_mul(&in_d)?.f_sub(&dx.f_mul(&slope_sum)?)?;
    let c = in_delta.f_neg()?.f_mul(&dx)?;
    let disc = b.f_square()?.f_sub(&a.f_mul_scalar(4.0)?.f_mul(&c)?)?;
    let root = c
        .f_mul_scalar(2.0)?
        .f_div(&b.f_neg()?.f_sub(&disc.f_sqrt()?)?)?;
    let out = root.f_mul(&in_widths)?.f_add(&in_cumwidths)?;

    let inside = x.f_ge(-TAIL_BOUND)?.f_logical_and(&x.f_le(TAIL_BOUND)?)?;
    Ok(out.f_where_self(&inside, x)?)
}
