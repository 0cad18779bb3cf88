//! VITS acoustic model (text encoder, duration predictor, flow) on libtorch.
#![forbid(unsafe_code)]

pub use tch;

#[cfg(test)]
mod tests {
    use tch::{Kind, Tensor};

    #[test]
    fn libtorch_runs_a_conv1d() {
        // A 1x1x5 ramp through a [1, 1, 3] kernel of ones: moving sums.
        let x = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0, 5.0]).reshape([1, 1, 5]);
        let w = Tensor::ones([1, 1, 3], (Kind::Float, tch::Device::Cpu));
        let y = x.conv1d(&w, None::<Tensor>, 1, 0, 1, 1);
        let got: Vec<f32> = y.flatten(0, -1).try_into().unwrap();
        assert_eq!(got, vec![6.0, 9.0, 12.0]);
    }
}
