//! The KV sequences of one context, and which conversation each one holds.
//!
//! Each (conversation, component) keeps its own sequence between turns, so a component picked
//! again decodes only what was added since. A sequence's tokens are exactly what its KV cells
//! hold, position by position; reuse is always a common token prefix, so it is exact. Free
//! sequences are evicted least recently used first.

use llama_cpp_2::token::LlamaToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Holder {
    Free,
    /// Writing a reply: never taken away.
    Reply,
    /// Catching up in the background: a reply for the same key, or any reply when every
    /// sequence is taken, may take it over, keeping what it has prefilled.
    CatchUp,
}

#[derive(Debug)]
pub(super) struct Slot {
    pub key: Option<String>,
    pub tokens: Vec<LlamaToken>,
    pub holder: Holder,
    last_used: u64,
}

#[derive(Debug)]
pub(super) struct Slots {
    slots: Vec<Slot>,
    clock: u64,
}

impl Slots {
    pub fn new(count: usize) -> Self {
        Self {
            slots: (0..count)
                .map(|_| Slot {
                    key: None,
                    tokens: Vec::new(),
                    holder: Holder::Free,
                    last_used: 0,
                })
                .collect(),
            clock: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn get(&self, index: usize) -> &Slot {
        &self.slots[index]
    }

    pub fn get_mut(&mut self, index: usize) -> &mut Slot {
        &mut self.slots[index]
    }

    /// The sequence a reply for `key` should use: its own if it has one and no other reply is
    /// using it, else the least recently used free one, else one that is only catching up.
    pub fn for_reply(&self, key: Option<&str>) -> Option<usize> {
        self.own(key, &[Holder::Free, Holder::CatchUp])
            .or_else(|| self.least_recently_used(Holder::Free))
            .or_else(|| self.least_recently_used(Holder::CatchUp))
    }

    /// The sequence a catch-up for `key` may use: its own or the least recently used free one.
    pub fn for_catch_up(&self, key: Option<&str>) -> Option<usize> {
        self.own(key, &[Holder::Free])
            .or_else(|| self.least_recently_used(Holder::Free))
    }

    /// Marks `index` as held for `key`; returns how many of its tokens `prompt` can keep (at most
    /// `prompt.len() - 1`, since the last prompt token must be decoded to get logits).
    pub fn take(
        &mut self,
        index: usize,
        key: Option<&str>,
        holder: Holder,
        prompt: &[LlamaToken],
    ) -> usize {
        let slot = &mut self.slots[index];
        slot.holder = holder;
        slot.key = key.map(str::to_owned);
        let common = slot
            .tokens
            .iter()
            .zip(prompt)
            .take_while(|(a, b)| a == b)
            .count();
        common.min(prompt.len().saturating_sub(1))
    }

    pub fn release(&mut self, index: usize) {
        self.clock += 1;
        let slot = &mut self.slots[index];
        slot.holder = Holder::Free;
        slot.last_used = self.clock;
    }

    fn own(&self, key: Option<&str>, holders: &[Holder]) -> Option<usize> {
        let key = key?;
        self.slots
            .iter()
            .position(|s| s.key.as_deref() == Some(key) && holders.contains(&s.holder))
    }

    fn least_recently_used(&self, holder: Holder) -> Option<usize> {
        (0..self.slots.len())
            .filter(|&i| self.slots[i].holder == holder)
            .min_by_key(|&i| self.slots[i].last_used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(ids: &[i32]) -> Vec<LlamaToken> {
        ids.iter().copied().map(LlamaToken).collect()
    }

    #[test]
    fn a_conversation_gets_its_own_sequence_back_and_keeps_the_common_prefix() {
        let mut slots = Slots::new(2);
        let first = slots.for_reply(Some("c1/a")).unwrap();
        assert_eq!(
            slots.take(first, Some("c1/a"), Holder::Reply, &tokens(&[1, 2, 3])),
            0
        );
        slots.get_mut(first).tokens = tokens(&[1, 2, 3, 9, 9]);
        slots.release(first);

        assert_eq!(slots.for_reply(Some("c1/a")), Some(first));
        let kept = slots.take(
            first,
            Some("c1/a"),
            Holder::Reply,
            &tokens(&[1, 2, 3, 9, 4, 5]),
        );
        assert_eq!(kept, 4);
    }

    #[test]
    fn the_last_prompt_token_is_always_decoded_again() {
        let mut slots = Slots::new(1);
        slots.get_mut(0).tokens = tokens(&[1, 2, 3]);
        assert_eq!(
            slots.take(0, Some("k"), Holder::Reply, &tokens(&[1, 2, 3])),
            2
        );
    }

    #[test]
    fn eviction_is_least_recently_used_and_spares_busy_sequences() {
        let mut slots = Slots::new(3);
        for (index, key) in ["a", "b", "c"].iter().enumerate() {
            slots.take(index, Some(key), Holder::Reply, &tokens(&[1]));
        }
        slots.release(1); // b, then a, then c were released
        slots.release(0);
        assert_eq!(slots.for_reply(Some("new")), Some(1));
        slots.take(1, Some("new"), Holder::Reply, &tokens(&[1]));
        assert_eq!(slots.for_reply(Some("newer")), Some(0));
        slots.take(0, Some("newer"), Holder::Reply, &tokens(&[1]));
        assert_eq!(
            slots.for_reply(Some("newest")),
            None,
            "every sequence writes a reply"
        );
    }

    #[test]
    fn a_reply_takes_over_a_catch_up_but_a_catch_up_waits() {
        let mut slots = Slots::new(1);
        slots.take(0, Some("c1/b"), Holder::CatchUp, &tokens(&[1, 2]));
        assert_eq!(slots.for_catch_up(Some("c2/b")), None);
        assert_eq!(
            slots.for_reply(Some("c1/b")),
            Some(0),
            "its own, mid catch-up"
        );
        assert_eq!(
            slots.for_reply(Some("c9/a")),
            Some(0),
            "any, when all are taken"
        );
    }
}
