//! Padding is exact: the text encoder, duration predictors and flow give the same values on
//! the real positions of a padded sequence as on the sequence alone (the model pads inputs to a
//! few fixed lengths so that oneDNN reuses its compiled kernels).

use anyhow::Result;
use signet_acoustic::duration::Durations;
use signet_acoustic::flow::Flow;
use signet_acoustic::text_encoder::TextEncoder;
use signet_nn::Weights;
use signet_schema::ArchitectureSchema;
use tch::{Device, Kind, Tensor};

use crate::support;

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn padded_sequences_match_unpadded_ones() -> Result<()> {
    for (speakers, sdp) in [(1, true), (2, false), (3, true)] {
        let cfg = support::tiny_config(speakers, sdp, "2");
        let bundle = support::tiny_bundle(&cfg, 21)?;
        let verified = bundle.verified()?;
        let checked = cfg.validate()?;
        let weights = Weights::from_bundle(&verified, &checked.tensors())?;
        let root = weights.root();
        let enc = TextEncoder::new(&checked, &(&root / "enc_p"))?;
        let dp = Durations::new(&checked, &(&root / "dp"))?;
        let flow = Flow::new(&checked, &(&root / "flow"))?;
        let g = (speakers > 1).then(|| Tensor::randn([1, 8, 1], (Kind::Float, Device::Cpu)));
        let _guard = tch::no_grad_guard();
        for n in [1i64, 5, 16, 23] {
            let ids: Vec<i64> = (0..n).map(|i| (i * 7 + 3) % 12).collect();
            let plain = Tensor::from_slice(&ids).view([1, n]);
            let padded = plain.constant_pad_nd([0, 9]);
            let a = enc.forward(&plain, None)?;
            let b = enc.forward(&padded, Some(n))?;
            for (x, y) in [(&a.x, &b.x), (&a.m_p, &b.m_p), (&a.logs_p, &b.logs_p)] {
                assert!(max_diff(x, &y.narrow(2, 0, n)) < 1e-4, "encoder, {n} ids");
            }
            let la = dp.forward(&a.x, g.as_ref(), 0.0, None)?;
            let lb = dp.forward(&b.x, g.as_ref(), 0.0, Some(n))?;
            assert!(
                max_diff(&la, &lb.narrow(2, 0, n)) < 1e-4,
                "durations, {n} ids"
            );
            let z = Tensor::randn([1, 8, 3 * n], (Kind::Float, Device::Cpu));
            let za = flow.reverse(&z, g.as_ref(), None)?;
            let zb = flow.reverse(&z.constant_pad_nd([0, 11]), g.as_ref(), Some(3 * n))?;
            assert!(
                max_diff(&za, &zb.narrow(2, 0, 3 * n)) < 1e-4,
                "flow, {} frames",
                3 * n
            );
        }
    }
    Ok(())
}
