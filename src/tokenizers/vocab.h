#pragma once
// A token <-> id table: hashing for encode (looked up by string_view, no
// temporary strings), a dense array for decode.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace attnkit::tokenizers {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// A model's output unit: a vocabulary id and the byte range of the word it
// covers (what "byte" means is stated by each model).
struct ModelToken {
  int64_t id = 0;
  uint32_t begin = 0, end = 0;
};

class Vocab {
 public:
  // Ids may have gaps but must stay below kMaxId; a hostile file cannot make
  // the id array huge.
  static constexpr int64_t kMaxId = int64_t{1} << 24;

  // Adds token -> id; false when the token or the id is already present.
  bool insert(std::string token, int64_t id);

  std::optional<int64_t> find(std::string_view token) const {
    auto it = ids_.find(token);
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }
  bool contains(std::string_view token) const { return ids_.find(token) != ids_.end(); }
  // The token of `id`, or nullptr.
  const std::string* token(int64_t id) const {
    if (id < 0 || id >= static_cast<int64_t>(tokens_.size())) return nullptr;
    return tokens_[id];
  }
  size_t size() const { return ids_.size(); }
  // One past the largest id.
  int64_t id_limit() const { return static_cast<int64_t>(tokens_.size()); }
  const std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>>& map() const { return ids_; }

 private:
  std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>> ids_;
  std::vector<const std::string*> tokens_;  // points at the keys of ids_ (stable in node containers)
};

inline bool Vocab::insert(std::string token, int64_t id) {
  if (id < 0 || id >= kMaxId) return false;
  if (id < static_cast<int64_t>(tokens_.size()) && tokens_[id] != nullptr) return false;
  auto [it, inserted] = ids_.emplace(std::move(token), id);
  if (!inserted) return false;
  if (id >= static_cast<int64_t>(tokens_.size())) tokens_.resize(id + 1, nullptr);
  tokens_[id] = &it->first;
  return true;
}

}  // namespace attnkit::tokenizers
