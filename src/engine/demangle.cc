// engine/demangle.cc: Demangle on LLVM 14's ItaniumDemangle.h: parse, bound
// the output over the parse tree, print (demangle.h says why).
//
// Workload: every name of a module's name section at load (hundreds to a few
// thousand, most under 100 bytes), and the linkage names DWARF gives for its
// calls. The SDK's guests' 843 distinct names take 0.7-0.9 ms, as with
// __cxa_demangle (-O2); the bound costs little beside parsing.
#include "engine/demangle.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "llvm/Demangle/ItaniumDemangle.h"

namespace edgelab::engine {
namespace {

namespace itd = llvm::itanium_demangle;

// The parser's allocator: nodes in 4 KiB blocks (the first inline, enough
// for most names), freed with the parse. It also counts the nodes (to size
// OutputBound's memo) and records the largest parameter pack made, which
// bounds how often a pack expansion prints its pattern.
class Arena {
 public:
  template <typename T, typename... Args>
  T* makeNode(Args&&... args) {
    if constexpr (std::is_same_v<T, itd::ParameterPack>) {
      largest_pack_ = std::max<size_t>(largest_pack_, (args.size(), ...));
    }
    ++nodes_;
    return new (Allocate(sizeof(T))) T(std::forward<Args>(args)...);
  }
  void* allocateNodeArray(size_t n) { return Allocate(n * sizeof(itd::Node*)); }
  void reset() {
    blocks_.clear();
    block_ = first_;
    used_ = 0;
    nodes_ = 0;
    largest_pack_ = 0;
  }
  size_t nodes() const { return nodes_; }
  size_t largest_pack() const { return largest_pack_; }

 private:
  static constexpr size_t kBlockBytes = 4096;
  static constexpr size_t kAlign = alignof(std::max_align_t);
  using Block = std::unique_ptr<std::max_align_t[]>;

  void* Allocate(size_t n) {
    n = (n + kAlign - 1) / kAlign * kAlign;
    if (n > kBlockBytes) {  // a long array: a block of its own
      blocks_.push_back(Block(new std::max_align_t[n / kAlign]));
      return blocks_.back().get();
    }
    if (used_ + n > kBlockBytes) {
      blocks_.push_back(Block(new std::max_align_t[kBlockBytes / kAlign]));
      block_ = blocks_.back().get();
      used_ = 0;
    }
    void* p = reinterpret_cast<char*>(block_) + used_;
    used_ += n;
    return p;
  }

  std::max_align_t first_[kBlockBytes / kAlign];
  std::max_align_t* block_ = first_;  // the block being filled
  size_t used_ = 0;                   // bytes of it
  std::vector<Block> blocks_;
  size_t nodes_ = 0;
  size_t largest_pack_ = 0;
};

// An upper bound on the bytes that printing a node writes, memoized per node:
// the tree shares nodes (a back-reference is the node it names), which is how
// a short name prints a huge string, so counting per node keeps this linear.
// A node writes its own text (OwnText), its strings and its children, each
// at most once (a parameter pack writes one of its elements), except that a
// pack expansion (and a fold or sizeof..., which print one) writes its
// pattern once per element of the pack it expands: at most the largest pack
// the parse made. Saturates at `limit`.
class OutputBound {
 public:
  // `nodes`: how many nodes the parse made (sizes the memo).
  OutputBound(uint64_t limit, size_t largest_pack, size_t nodes)
      : limit_(limit), pack_(largest_pack + 1), memo_(Capacity(nodes)) {}

  uint64_t Of(const itd::Node* node) {
    if (node == nullptr) return 0;
    Slot& slot = Find(node);
    if (slot.node == node) return slot.bound == kVisiting ? limit_ : slot.bound;  // a cycle: refuse
    slot = Slot{node, kVisiting};
    uint64_t total = OwnText(node->getKind());
    node->visit([&](const auto* derived) {
      using T = std::remove_cv_t<std::remove_pointer_t<decltype(derived)>>;
      if constexpr (std::is_same_v<T, itd::ForwardTemplateReference>) {
        total = Add(total, Of(derived->Ref));  // no fields: it prints what it refers to
      } else {
        derived->match([&](const auto&... fields) { ((total = Add(total, Field(fields))), ...); });
      }
    });
    if (node->getKind() == itd::Node::KParameterPackExpansion ||
        node->getKind() == itd::Node::KFoldExpr ||
        node->getKind() == itd::Node::KSizeofParamPackExpr) {
      total = total > limit_ / pack_ ? limit_ : total * pack_;
    }
    Find(node).bound = total;
    return total;
  }

 private:
  static constexpr uint64_t kVisiting = UINT64_MAX;
  struct Slot {
    const itd::Node* node = nullptr;
    uint64_t bound = 0;
  };

  // A power of two over twice the nodes: the memo (open addressing, linear
  // probing) never fills, so Find always ends.
  static size_t Capacity(size_t nodes) {
    size_t capacity = 16;
    while (capacity < 2 * nodes + 2) capacity *= 2;
    return capacity;
  }
  // The slot holding `node`, or the empty slot where it goes.
  Slot& Find(const itd::Node* node) {
    const size_t mask = memo_.size() - 1;
    size_t i = (reinterpret_cast<uintptr_t>(node) >> 4) * 0x9e3779b97f4a7c15ull >> 20 & mask;
    while (memo_[i].node != nullptr && memo_[i].node != node) i = (i + 1) & mask;
    return memo_[i];
  }

  // The most a node of `kind` writes besides its strings and children: 80
  // for "std::basic_string<char, std::char_traits<char>, std::allocator<char>
  // >" (70) and a float literal (printed with %a, under 40); 32 for every
  // other kind (the longest, a function's " const volatile restrict &&" and
  // parentheses, is 30; operator names and prefixes such as "non-virtual
  // thunk to " are strings, counted as such).
  static uint64_t OwnText(itd::Node::Kind kind) {
    switch (kind) {
      case itd::Node::KSpecialSubstitution:
      case itd::Node::KExpandedSpecialSubstitution:
      case itd::Node::KFloatLiteral:
      case itd::Node::KDoubleLiteral:
      case itd::Node::KLongDoubleLiteral:
        return 80;
      default:
        return 32;
    }
  }

  uint64_t Add(uint64_t a, uint64_t b) const { return std::min(limit_, a + b); }
  // Children and strings count; flags, kinds and qualifiers are within
  // OwnText.
  template <typename T>
  uint64_t Field(const T& field) {
    if constexpr (std::is_convertible_v<T, const itd::Node*>) {
      return Of(field);
    } else if constexpr (std::is_same_v<T, itd::NodeArray>) {
      uint64_t total = 0;
      for (const itd::Node* n : field) total = Add(total, Of(n) + 2);  // ", "
      return total;
    } else if constexpr (std::is_same_v<T, itd::StringView>) {
      return field.size();
    } else {
      return 0;
    }
  }

  const uint64_t limit_;
  const uint64_t pack_;
  std::vector<Slot> memo_;
};

}  // namespace

std::string Demangle(const std::string& name) {
  if (name.rfind("_Z", 0) != 0 || name.size() > kMaxMangledBytes) return name;
  itd::ManglingParser<Arena> parser(name.data(), name.data() + name.size());
  const itd::Node* ast = parser.parse();
  if (ast == nullptr) return name;
  OutputBound bound(kMaxPrintedBytes + 1, parser.ASTAllocator.largest_pack(),
                    parser.ASTAllocator.nodes());
  if (bound.Of(ast) > kMaxPrintedBytes) return name;
  itd::OutputBuffer out;
  if (!itd::initializeOutputBuffer(nullptr, nullptr, out, 1024)) return name;
  ast->print(out);
  std::string text;
  if (out.getCurrentPosition() <= kMaxDemangledBytes) {
    text.assign(out.getBuffer(), out.getCurrentPosition());
  }
  std::free(out.getBuffer());
  return text.empty() ? name : text;
}

}  // namespace edgelab::engine
