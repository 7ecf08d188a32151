//! Declarative macros that turn one field list into a struct with its CBOR encoding, its
//! Lotus JSON form, its serde impls (via Lotus JSON) and, for tests, a value generator.
//!
//! Each field is written `"GoName" => pub field: Type`. For map structs the Go names are
//! the CBOR keys and must be listed in wire (length-first) order, which is checked at
//! compile time. For tuple structs they are only the JSON names; the listed order is the
//! wire order.

/// Declare a struct encoded as a cbor-gen map (`--map-encoding`). Start the body with
/// `custom_json;` to write the type's `LotusJson` impl by hand (field helpers are still made).
#[macro_export]
macro_rules! cbor_map {
    (custom_json; $($rest:tt)*) => { $crate::__cbor_map!(custom; $($rest)*); };
    ($($rest:tt)*) => { $crate::__cbor_map!(standard; $($rest)*); };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __cbor_map {
    ($json:ident;
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $key:literal => $fvis:vis $field:ident : $ty:ty
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        $vis struct $name {
            $( $(#[$fmeta])* $fvis $field: $ty, )*
        }

        const _: () = assert!(
            $crate::cbor::keys_in_canonical_order(&[$($key),*]),
            concat!("map keys of ", stringify!($name), " must be listed in length-first order")
        );

        impl $crate::cbor::WireShape for $name {
            const NAME: &'static str = stringify!($name);
            const SHAPE: $crate::cbor::Shape = $crate::cbor::Shape::Map;
            const KEYS: &'static [&'static str] = &[$($key),*];
        }

        impl $crate::cbor::Encode for $name {
            fn encode(&self, e: &mut $crate::cbor::Encoder) {
                e.map(<Self as $crate::cbor::WireShape>::KEYS.len());
                $(
                    e.text($key);
                    $crate::cbor::Encode::encode(&self.$field, e);
                )*
            }
        }

        impl $crate::cbor::Decode for $name {
            fn decode(d: &mut $crate::cbor::Decoder<'_>) -> Result<Self, $crate::cbor::DecodeError> {
                let entries = d.map($crate::cbor::MAX_ARRAY_LEN)?;
                $( let mut $field: Option<$ty> = None; )*
                for _ in 0..entries {
                    let key = d.text_raw($crate::cbor::MAX_TEXT_LEN)?;
                    $(
                        if key == $key.as_bytes() {
                            // A repeated key overwrites the earlier value, as in cbor-gen.
                            $field = Some(
                                <$ty as $crate::cbor::Decode>::decode(d)
                                    .map_err(|e| e.in_field(stringify!($name), $key))?,
                            );
                            continue;
                        }
                    )*
                    // Unknown keys are skipped, one item each.
                    d.skip()?;
                }
                Ok($name {
                    $(
                        $field: match $field {
                            Some(v) => v,
                            None => <$ty as $crate::cbor::Decode>::missing().ok_or(
                                $crate::cbor::DecodeError::Missing { ty: stringify!($name), field: $key },
                            )?,
                        },
                    )*
                })
            }
        }

        $crate::__wire_common!($json; $name { $( $key => $field : $ty ),* });
    };
}

/// Declare a struct encoded as a cbor-gen tuple (a fixed-length array). Start the body with
/// `custom_json;` to write the type's `LotusJson` impl by hand.
#[macro_export]
macro_rules! cbor_tuple {
    (custom_json; $($rest:tt)*) => { $crate::__cbor_tuple!(custom; $($rest)*); };
    ($($rest:tt)*) => { $crate::__cbor_tuple!(standard; $($rest)*); };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __cbor_tuple {
    ($json:ident;
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $key:literal => $fvis:vis $field:ident : $ty:ty
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        $vis struct $name {
            $( $(#[$fmeta])* $fvis $field: $ty, )*
        }

        impl $crate::cbor::WireShape for $name {
            const NAME: &'static str = stringify!($name);
            const SHAPE: $crate::cbor::Shape = $crate::cbor::Shape::Tuple;
            const KEYS: &'static [&'static str] = &[$($key),*];
        }

        impl $crate::cbor::Encode for $name {
            fn encode(&self, e: &mut $crate::cbor::Encoder) {
                e.array(<Self as $crate::cbor::WireShape>::KEYS.len());
                $( $crate::cbor::Encode::encode(&self.$field, e); )*
            }
        }

        impl $crate::cbor::Decode for $name {
            fn decode(d: &mut $crate::cbor::Decoder<'_>) -> Result<Self, $crate::cbor::DecodeError> {
                let expected = <Self as $crate::cbor::WireShape>::KEYS.len();
                let got = d.array($crate::cbor::MAX_ARRAY_LEN)?;
                if got != expected {
                    return Err($crate::cbor::DecodeError::Arity {
                        ty: stringify!($name),
                        expected,
                        got: got as u64,
                    });
                }
                Ok($name {
                    $(
                        $field: <$ty as $crate::cbor::Decode>::decode(d)
                            .map_err(|e| e.in_field(stringify!($name), $key))?,
                    )*
                })
            }
        }

        $crate::__wire_common!($json; $name { $( $key => $field : $ty ),* });
    };
}

/// Declare a struct that travels only as Lotus JSON (a JSON-RPC result or parameter) and has
/// no CBOR form of ours. Fields are listed in Go declaration order, which is the JSON order.
#[macro_export]
macro_rules! json_struct {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $key:literal => $fvis:vis $field:ident : $ty:ty
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        $vis struct $name {
            $( $(#[$fmeta])* $fvis $field: $ty, )*
        }

        $crate::__wire_common!(standard; $name { $( $key => $field : $ty ),* });
    };
}

/// Lotus JSON, serde and test-generator impls shared by every struct macro.
#[doc(hidden)]
#[macro_export]
macro_rules! __wire_common {
    ($json:ident; $name:ident { $( $key:literal => $field:ident : $ty:ty ),* }) => {
        impl $name {
            /// The Lotus JSON fields of this struct, in Go declaration order.
            #[doc(hidden)]
            pub fn json_fields(&self) -> $crate::json::Map<String, $crate::json::Value> {
                #[allow(unused_mut)]
                let mut m = $crate::json::Map::new();
                $( m.insert($key.to_string(), $crate::json::LotusJson::to_json(&self.$field)); )*
                m
            }

            /// Build the struct from Lotus JSON fields, taking the ones it knows.
            #[doc(hidden)]
            #[allow(unused_variables)]
            pub fn from_json_fields(
                m: &mut $crate::json::Map<String, $crate::json::Value>,
            ) -> Result<Self, $crate::json::JsonError> {
                Ok($name {
                    $( $field: $crate::json::take_field(m, stringify!($name), $key)?, )*
                })
            }
        }

        $crate::__lotus_json_impl!($json; $name);

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                ::serde::Serialize::serialize(&$crate::json::LotusJson::to_json(self), s)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = <$crate::json::Value as ::serde::Deserialize>::deserialize(d)?;
                <Self as $crate::json::LotusJson>::from_json(v).map_err(::serde::de::Error::custom)
            }
        }

        #[cfg(feature = "testing")]
        impl $crate::testing::Arb for $name {
            #[allow(unused_variables)]
            fn arb(u: &mut ::arbitrary::Unstructured<'_>) -> ::arbitrary::Result<Self> {
                Ok($name { $( $field: <$ty as $crate::testing::Arb>::arb(u)?, )* })
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __lotus_json_impl {
    (standard; $name:ident) => {
        impl $crate::json::LotusJson for $name {
            fn to_json(&self) -> $crate::json::Value {
                $crate::json::Value::Object(self.json_fields())
            }

            fn from_json(v: $crate::json::Value) -> Result<Self, $crate::json::JsonError> {
                let mut m = $crate::json::expect_object(v, stringify!($name))?;
                Self::from_json_fields(&mut m)
            }
        }
    };
    (custom; $name:ident) => {};
}
