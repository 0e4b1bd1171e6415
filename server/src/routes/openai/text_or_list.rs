//! OpenAI's "a string or an array" fields (`messages[].content`, `stop`), read by hand.
//!
//! Serde's untagged enums buffer the value and, when no variant fits, say only `data did not
//! match any variant of untagged enum Content`. A visitor keeps the field's path and says what
//! the field takes, and the array's elements keep their own paths (`content[1].type`).

use std::{fmt, marker::PhantomData};

use serde::{
    de::{self, DeserializeOwned, SeqAccess, Visitor},
    Deserializer,
};

pub(super) enum TextOrList<T> {
    Text(String),
    List(Vec<T>),
}

/// Reads `null`, a string or an array of `T`; `expecting` names the field's type for errors.
pub(super) fn text_or_list<'de, D, T>(
    deserializer: D,
    expecting: &'static str,
) -> Result<Option<TextOrList<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    deserializer.deserialize_any(TextOrListVisitor {
        expecting,
        element: PhantomData,
    })
}

struct TextOrListVisitor<T> {
    expecting: &'static str,
    element: PhantomData<T>,
}

impl<'de, T: DeserializeOwned> Visitor<'de> for TextOrListVisitor<T> {
    type Value = Option<TextOrList<T>>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str(self.expecting)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Some(TextOrList::Text(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(Some(TextOrList::Text(text)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element::<T>()? {
            items.push(item);
        }
        Ok(Some(TextOrList::List(items)))
    }
}
