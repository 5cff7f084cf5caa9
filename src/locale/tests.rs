//! The catalogs themselves: each parses, and each has exactly the keys and arguments of `en`.
