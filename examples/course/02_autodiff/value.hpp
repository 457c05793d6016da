// A scalar that remembers how it was computed — reverse-mode autodiff in about sixty lines, in the
// style of Karpathy's micrograd. Lesson 2 builds a tiny graph with it before using the engine.
//
// Every operation creates a node holding its value, its parents and the local derivative of its
// value with respect to each parent (known at forward time for scalar functions). backward()
// visits the nodes from the output back to the inputs and applies the chain rule:
//     parent.grad += (d node / d parent) · node.grad
#pragma once

#include <cmath>
#include <functional>
#include <memory>
#include <unordered_set>
#include <vector>

namespace pathgrad::course {

struct ValueNode {
  double data = 0.0;
  double grad = 0.0;                                // d(output)/d(this), filled by backward()
  std::vector<std::shared_ptr<ValueNode>> parents;  // the operands this value was computed from
  std::vector<double> local;                        // d(this)/d(parent k)
};

class Value {
 public:
  Value(double data) : node_(std::make_shared<ValueNode>()) { node_->data = data; }  // NOLINT: implicit on purpose

  double data() const { return node_->data; }
  double grad() const { return node_->grad; }

  // The result of an operation: its value, its operands and the local derivatives.
  static Value make(double data, const std::vector<Value>& parents, std::vector<double> local) {
    Value out(data);
    for (const Value& p : parents) out.node_->parents.push_back(p.node_);
    out.node_->local = std::move(local);
    return out;
  }

  // Sets d(this)/d(v) into v.grad() for every value v this one was computed from.
  void backward() const {
    std::vector<ValueNode*> order;  // every node after all of its parents
    std::unordered_set<ValueNode*> seen;
    std::function<void(ValueNode*)> visit = [&](ValueNode* n) {
      if (!seen.insert(n).second) return;
      for (const auto& p : n->parents) visit(p.get());
      order.push_back(n);
    };
    visit(node_.get());
    for (ValueNode* n : order) n->grad = 0.0;
    node_->grad = 1.0;
    for (auto it = order.rbegin(); it != order.rend(); ++it)  // outputs first
      for (size_t k = 0; k < (*it)->parents.size(); ++k) (*it)->parents[k]->grad += (*it)->local[k] * (*it)->grad;
  }

 private:
  std::shared_ptr<ValueNode> node_;
};

inline Value operator+(const Value& a, const Value& b) { return Value::make(a.data() + b.data(), {a, b}, {1.0, 1.0}); }
inline Value operator*(const Value& a, const Value& b) {
  return Value::make(a.data() * b.data(), {a, b}, {b.data(), a.data()});
}
inline Value operator-(const Value& a, const Value& b) { return a + Value(-1.0) * b; }
inline Value tanh(const Value& a) {
  const double t = std::tanh(a.data());
  return Value::make(t, {a}, {1.0 - t * t});
}

}  // namespace pathgrad::course
