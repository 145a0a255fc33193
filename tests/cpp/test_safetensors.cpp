// safetensors: round trips of every attnkit dtype, conversion of the file
// dtypes attnkit widens (F16, F64, I8, U8, I16), zero-copy views of the
// mapping, atomic writes, and a clear error for each kind of damaged file.
// Interop with the `safetensors` package lives in tests/python/test_io.py.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "attnkit/io/atomic_file.h"
#include "attnkit/io/safetensors.h"
#include "test_support.h"

namespace attnkit::testing {
namespace {

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "attnkit_" + std::to_string(::getpid()) + "_" + name;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A file from a header JSON text and `data_bytes` bytes of data.
std::string make_file(const std::string& header, size_t data_bytes, uint64_t claimed = UINT64_MAX) {
  uint64_t size = claimed == UINT64_MAX ? header.size() : claimed;
  std::string out(reinterpret_cast<const char*>(&size), 8);
  return out + header + std::string(data_bytes, '\0');
}

TEST(Safetensors, RoundTripsEveryDType) {
  const std::string path = temp_path("roundtrip.safetensors");
  io::TensorMap tensors;
  tensors["a.weight"] = randn_tensor({3, 4}, 1);
  tensors["b"] = randn_tensor({5}, 2).to(kBFloat16);
  tensors["ids"] = from_vector_i64({1, -2, 3}, {3});
  tensors["ids32"] = from_vector_i64({7, 8}, {2}).to(kInt32);
  tensors["mask"] = gt(randn_tensor({2, 3}, 3), 0.0);
  tensors["scalar"] = scalar_tensor(2.5);
  tensors["empty"] = zeros({0, 4});
  tensors["strided"] = randn_tensor({4, 6}, 4).transpose(0, 1);  // written contiguous
  io::save_safetensors(path, tensors, {{"format", "pt"}});
  io::SafetensorsFile file(path);
  EXPECT_EQ(file.header().metadata.at("format"), "pt");
  EXPECT_EQ(file.names().size(), tensors.size());
  for (const auto& [name, expected] : tensors) {
    Tensor got = file.get(name);
    ASSERT_EQ(got.dtype(), expected.dtype()) << name;
    ASSERT_EQ(got.shape(), expected.shape()) << name;
    EXPECT_TRUE(all_close(got.to(kFloat32), expected.to(kFloat32), 0, 0)) << name;
  }
  // The header is padded so the data starts 8-byte aligned: views, not copies.
  EXPECT_EQ(file.header().data_start % 8, 0u);
  std::remove(path.c_str());
}

TEST(Safetensors, ReadsAreViewsOfTheMappingAndOutliveTheFile) {
  const std::string path = temp_path("views.safetensors");
  io::save_safetensors(path, {{"w", from_vector({1, 2, 3, 4}, {2, 2})}});
  Tensor w;
  {
    io::SafetensorsFile file(path);
    w = file.get("w");
  }
  std::remove(path.c_str());  // the mapping stays alive with the tensor
  EXPECT_EQ(w.at({1, 1}), 4.0);
  w.fill_(0.0);  // copy on write: allowed, and the file would not change
  EXPECT_EQ(w.at({0, 0}), 0.0);
}

TEST(Safetensors, ConvertsNarrowAndWideTypesToFloat32) {
  const std::string path = temp_path("convert.safetensors");
  // F16 1.5 = 0x3e00, -2 = 0xc000; F64 0.1; I8 -3; U8 200; I16 -300.
  const uint16_t halves[] = {0x3e00, 0xc000};
  const double wide = 0.1;
  const int8_t i8 = -3;
  const uint8_t u8 = 200;
  const int16_t i16 = -300;
  nlohmann::ordered_json h;
  h["h"] = {{"dtype", "F16"}, {"shape", {2}}, {"data_offsets", {0, 4}}};
  h["d"] = {{"dtype", "F64"}, {"shape", nlohmann::json::array()}, {"data_offsets", {4, 12}}};
  h["i8"] = {{"dtype", "I8"}, {"shape", {1}}, {"data_offsets", {12, 13}}};
  h["u8"] = {{"dtype", "U8"}, {"shape", {1}}, {"data_offsets", {13, 14}}};
  h["i16"] = {{"dtype", "I16"}, {"shape", {1}}, {"data_offsets", {14, 16}}};
  std::string bytes = make_file(h.dump(), 0);
  bytes.append(reinterpret_cast<const char*>(halves), 4);
  bytes.append(reinterpret_cast<const char*>(&wide), 8);
  bytes.append(reinterpret_cast<const char*>(&i8), 1);
  bytes.append(reinterpret_cast<const char*>(&u8), 1);
  bytes.append(reinterpret_cast<const char*>(&i16), 2);
  write_file(path, bytes);
  io::TensorMap t = io::load_safetensors(path);
  EXPECT_EQ(t["h"].at({0}), 1.5);
  EXPECT_EQ(t["h"].at({1}), -2.0);
  EXPECT_FLOAT_EQ(static_cast<float>(t["d"].item()), 0.1f);  // F64 (unaligned here) rounded to float
  EXPECT_EQ(t["i8"].at({0}), -3.0);
  EXPECT_EQ(t["u8"].at({0}), 200.0);
  EXPECT_EQ(t["i16"].at({0}), -300.0);
  std::remove(path.c_str());
}

TEST(Safetensors, DamagedFilesAreClearErrors) {
  auto parse = [](const std::string& bytes) {
    io::parse_safetensors_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  };
  const std::string ok = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  EXPECT_NO_THROW(parse(make_file(ok, 8)));
  EXPECT_TRUE(throws_error_naming([&] { parse("abc"); }, "fewer than the 8-byte header size"));
  EXPECT_TRUE(throws_error_naming([&] { parse(make_file(ok, 8, 1000)); }, "the header claims 1000 bytes"));
  EXPECT_TRUE(throws_error_naming([&] { parse(make_file(ok, 4)); }, "(truncated file)"));
  EXPECT_TRUE(throws_error_naming([&] { parse(make_file(ok, 12)); }, "(trailing bytes)"));
  EXPECT_TRUE(throws_error_naming([&] { parse(make_file("{\"w\": [1, 2", 0)); }, "not valid JSON"));
  EXPECT_TRUE(throws_error_naming([&] { parse(make_file("[1]", 0)); }, "must be a JSON object"));
  EXPECT_TRUE(throws_error_naming([&] { parse(make_file(std::string(40, '[') + std::string(40, ']'), 0)); },
                                  "nests deeper than"));
  EXPECT_TRUE(throws_error_naming(
      [&] { parse(make_file(R"({"w":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}})", 8)); },
      "has dtype C64, which attnkit does not read"));
  EXPECT_TRUE(throws_error_naming(
      [&] { parse(make_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8)); },
      "has 8 bytes of data, its dtype F32 and shape [3] need 12"));
  EXPECT_TRUE(throws_error_naming(
      [&] { parse(make_file(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}})", 8)); },
      "must be a non-negative integer"));
  EXPECT_TRUE(throws_error_naming(
      [&] {
        parse(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                        R"("b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})",
                        6));
      },
      "overlapping or with a gap"));
  EXPECT_TRUE(throws_error_naming(
      [&] { parse(make_file(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8)); },
      "overflows"));
  EXPECT_TRUE(throws_error_naming([&] { parse(make_file(R"({"w":{"dtype":"F32","shape":[2]}})", 8)); },
                                  "has no \"data_offsets\""));
  // Through the file API the message also names the file.
  const std::string path = temp_path("damaged.safetensors");
  write_file(path, make_file(ok, 3));
  EXPECT_TRUE(throws_error_naming([&] { io::SafetensorsFile file(path); }, path));
  std::remove(path.c_str());
  EXPECT_TRUE(throws_error_naming([&] { io::SafetensorsFile file(path); }, "cannot open"));
}

TEST(AtomicFile, AFailedWriteLeavesTheOldFile) {
  const std::string path = temp_path("atomic.bin");
  io::write_file_atomically(path, [](std::ostream& out) { out << "first"; });
  EXPECT_EQ(read_file(path), "first");
  EXPECT_THROW(io::write_file_atomically(path,
                                         [](std::ostream& out) {
                                           out << "half of the second";
                                           throw ValueError("crash while saving");
                                         }),
               ValueError);
  EXPECT_EQ(read_file(path), "first");
  EXPECT_FALSE(std::ifstream(path + ".tmp." + std::to_string(::getpid())).good());  // no temporary left
  std::remove(path.c_str());
}

}  // namespace
}  // namespace attnkit::testing
