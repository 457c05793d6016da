// with_static_flags: turns run-time booleans into compile-time ones, so that an optimizer's
// element loop is compiled once per combination of its options, without branches inside (which
// keeps it vectorisable). Internal to optim/.
#pragma once

#include <type_traits>

namespace pathgrad::optim {

// Calls f(std::bool_constant<b1>{}, std::bool_constant<b2>{}, ...) for run-time flags b1, b2, ...
template <class F>
void with_static_flags(F&& f) {
  f();
}
template <class F, class... Flags>
void with_static_flags(F&& f, bool flag, Flags... rest) {
  if (flag)
    with_static_flags([&](auto... known) { f(std::true_type{}, known...); }, rest...);
  else
    with_static_flags([&](auto... known) { f(std::false_type{}, known...); }, rest...);
}

}  // namespace pathgrad::optim
