//! Authentication primitives. [`password`] verifies every hash scheme WildDuck stores and hashes new
//! passwords with bcrypt.

pub mod password;
