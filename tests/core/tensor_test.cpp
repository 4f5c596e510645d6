#include <gtest/gtest.h>

#include "engine/core/tensor.h"

namespace te {

TEST(Tensor, ZerosHasShapeAndZeroValues) {
  Tensor t = Tensor::zeros({2, 3, 4});
  EXPECT_EQ(t.shape(), Shape({2, 3, 4}));
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.nbytes(), 96u);
  for (double v : t.to_f64_vector()) EXPECT_EQ(v, 0.0);
}

TEST(Tensor, ViewsShareStorage) {
  Tensor flat = Tensor::from_vector({6}, {1, 2, 3, 4, 5, 6});
  Tensor view = flat.slice_flat(2, {2, 2});
  view.data<float>()[0] = 30;
  EXPECT_EQ(flat.data<float>()[2], 30);
  EXPECT_EQ(view.to_vector(), (std::vector<float>{30, 4, 5, 6}));
  Tensor rows = flat.reshape({3, 2}).narrow0(1, 3);
  EXPECT_EQ(rows.shape(), Shape({2, 2}));
  EXPECT_EQ(rows.to_vector(), (std::vector<float>{30, 4, 5, 6}));
}

TEST(Tensor, CloneIsIndependent) {
  Tensor a = Tensor::from_vector({3}, {1, 2, 3});
  Tensor b = a.clone();
  b.data<float>()[0] = 9;
  EXPECT_EQ(a.data<float>()[0], 1);
}

TEST(Tensor, WrongTypedAccessThrows) {
  Tensor a = Tensor::zeros({2});
  EXPECT_THROW(a.data<double>(), Error);
  EXPECT_THROW(a.reshape({3}), ShapeError);
  EXPECT_THROW(a.slice_flat(1, {2}), ShapeError);
}

TEST(Tensor, DtypeConversionRoundTrips) {
  Tensor a = Tensor::from_vector({3}, {0.5f, -1.25f, 3.0f});
  Tensor d = a.to_dtype(DType::F64);
  EXPECT_EQ(d.dtype(), DType::F64);
  EXPECT_EQ(d.to_dtype(DType::F32).to_vector(), a.to_vector());
}

TEST(Tensor, CudaWithoutBackendIsAClearError) {
  if (built_with_cuda()) GTEST_SKIP() << "CUDA backend built: covered by the gpu tests";
  EXPECT_THROW(Tensor::zeros({2}, DType::F32, Device::cuda(0)), DeviceError);
}

TEST(Device, Parses) {
  EXPECT_EQ(Device::parse("cpu"), Device::cpu());
  EXPECT_EQ(Device::parse("cuda:1"), Device::cuda(1));
  EXPECT_THROW(Device::parse("gpu"), Error);
}

}  // namespace te
