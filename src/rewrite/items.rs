//! The item log: the keys the reorder containers' item handlers read for each item (its SKU
//! and category, from its start tag or from a descendant's), written by the handlers and only
//! read by the output stream's reorder stage. Data flows one way: handlers write the log and mark the stream with the log
//! positions; the reorder stage reads both and writes nothing back.
//!
//! The log holds the items of one (outermost) container at a time, numbered by its serial, and
//! is bounded by the container's buffer limit whatever the page holds: it takes items while
//! their start tags (which hold the attributes it keeps) add up to no more than the limit.
//! Past it the container is marked full: the reorder stage, which buffers at most the same
//! limit of the page's bytes, leaves it in origin order then.

use crate::decide::ItemKeys;

/// Bytes of the shortest start tag (`<a>`).
const MIN_TAG_BYTES: usize = 3;

/// An item's keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Item {
    pub sku: Option<String>,
    pub category: Option<String>,
}

/// Which key of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Key {
    Sku,
    Category,
}

impl Item {
    pub(super) fn keys(&self) -> ItemKeys<'_> {
        ItemKeys {
            sku: self.sku.as_deref(),
            category: self.category.as_deref(),
        }
    }

    fn keys_free(&self, key: Key) -> bool {
        match key {
            Key::Sku => self.sku.is_none(),
            Key::Category => self.category.is_none(),
        }
    }

    fn key_mut(&mut self, key: Key) -> &mut Option<String> {
        match key {
            Key::Sku => &mut self.sku,
            Key::Category => &mut self.category,
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct ItemLog {
    /// The outermost container being recorded (counted from 1; 0: none yet).
    serial: u32,
    /// Its reorder plan.
    plan: u32,
    /// The item whose descendants are being read: the last one recorded, until its end tag.
    current: Option<u32>,
    /// Containers open, the outermost one included (nested containers are its content).
    depth: u32,
    items: Vec<Item>,
    /// The recorded items' start tags, in bytes.
    tag_bytes: usize,
    limit: usize,
    full: bool,
}

impl ItemLog {
    /// A container's start tag (of reorder plan `plan`); returns its serial (an outermost
    /// container starts a new log).
    pub(super) fn open_container(&mut self, plan: u32, limit: usize) -> u32 {
        if self.depth == 0 {
            self.serial = self.serial.wrapping_add(1);
            self.plan = plan;
            self.current = None;
            self.items.clear();
            self.tag_bytes = 0;
            self.limit = limit;
            self.full = false;
        }
        self.depth += 1;
        self.serial
    }

    /// A container's end tag.
    pub(super) fn close_container(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        if self.depth == 0 {
            self.current = None;
        }
    }

    /// An item's start tag (`tag_bytes` long in the page) inside an open container; returns
    /// its place in the log, or `None` outside containers and once the log is full.
    pub(super) fn record(&mut self, item: Item, tag_bytes: usize) -> Option<u32> {
        if self.depth == 0 || self.full {
            return None;
        }
        let values = item.sku.as_ref().map_or(0, String::len)
            + item.category.as_ref().map_or(0, String::len);
        let index = u32::try_from(self.items.len()).ok();
        if !self.take_bytes(tag_bytes.max(values).max(MIN_TAG_BYTES)) || index.is_none() {
            self.full = true;
            self.items = Vec::new();
            return None;
        }
        self.items.push(item);
        self.current = index;
        index
    }

    /// An item's end tag: its descendants are read no more.
    pub(super) fn end_item(&mut self, index: u32) {
        if self.current == Some(index) {
            self.current = None;
        }
    }

    /// A key read from a descendant (a start tag `tag_bytes` long) of the current item of a
    /// container of plan `plan`; kept when the item has none yet (the first one that yields
    /// a key wins).
    pub(super) fn descendant_key(&mut self, plan: u32, key: Key, value: String, tag_bytes: usize) {
        if self.depth == 0 || self.full || self.plan != plan {
            return;
        }
        let Some(current) = self.current else {
            return;
        };
        let free = self
            .items
            .get(current as usize)
            .is_some_and(|item| item.keys_free(key));
        if !free {
            return;
        }
        if !self.take_bytes(tag_bytes.max(value.len()).max(MIN_TAG_BYTES)) {
            self.full = true;
            self.items = Vec::new();
            return;
        }
        if let Some(item) = self.items.get_mut(current as usize) {
            *item.key_mut(key) = Some(value);
        }
    }

    /// Counts start-tag bytes against the limit; `false` past it.
    fn take_bytes(&mut self, bytes: usize) -> bool {
        self.tag_bytes += bytes;
        self.tag_bytes <= self.limit
    }

    /// The keys of the items at `indices` of container `serial`; `None` when the log holds
    /// another container now, is full, or lacks one of them.
    pub(super) fn keys(&self, serial: u32, indices: &[u32]) -> Option<Vec<ItemKeys<'_>>> {
        if serial != self.serial || self.full {
            return None;
        }
        indices
            .iter()
            .map(|&i| self.items.get(i as usize).map(Item::keys))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(sku: &str) -> Item {
        Item {
            sku: Some(sku.into()),
            category: None,
        }
    }

    #[test]
    fn items_are_numbered_from_each_outermost_container() {
        let mut log = ItemLog::default();
        assert_eq!(log.record(item("outside"), 20), None);
        let first = log.open_container(0, 1024);
        assert_eq!(log.record(item("a"), 20), Some(0));
        assert_eq!(log.open_container(0, 1024), first, "nested: same container");
        assert_eq!(log.record(item("nested"), 20), Some(1));
        log.close_container();
        assert_eq!(log.record(item("b"), 20), Some(2));
        log.close_container();
        assert_eq!(log.record(item("after"), 20), None);
        let keys = log.keys(first, &[2, 0]).unwrap();
        assert_eq!(keys[0].sku, Some("b"));
        assert_eq!(keys[1].sku, Some("a"));
        let second = log.open_container(0, 1024);
        assert_ne!(second, first);
        assert_eq!(log.record(item("c"), 20), Some(0));
        assert!(
            log.keys(first, &[0]).is_none(),
            "the log holds the second container now"
        );
        assert!(log.keys(second, &[1]).is_none(), "no such item");
    }

    #[test]
    fn the_log_is_bounded_by_the_containers_limit() {
        let mut log = ItemLog::default();
        let serial = log.open_container(0, 30);
        for n in 0..10 {
            assert_eq!(
                log.record(Item::default(), 1),
                Some(n),
                "{n}: 3 bytes at least"
            );
        }
        assert_eq!(log.record(Item::default(), 1), None, "33 bytes > 30");
        assert!(
            log.keys(serial, &[0]).is_none(),
            "full: left in origin order"
        );
        log.close_container();
        let serial = log.open_container(0, 100);
        assert_eq!(log.record(item("12345"), 60), Some(0));
        assert_eq!(
            log.record(item("1234"), 41),
            None,
            "101 bytes of start tags > 100"
        );
        assert!(log.keys(serial, &[0]).is_none());
        log.close_container();
        let serial = log.open_container(0, 8);
        assert_eq!(
            log.record(item("a-long-sku"), 4),
            None,
            "a value is never longer than its tag"
        );
        assert!(log.keys(serial, &[]).is_none());
    }

    #[test]
    fn descendants_fill_the_current_items_missing_keys() {
        let mut log = ItemLog::default();
        let other_plan = 1;
        log.descendant_key(0, Key::Category, "outside".into(), 10);
        let serial = log.open_container(0, 1024);
        log.descendant_key(0, Key::Category, "before any item".into(), 10);
        let first = log.record(item("a"), 20).unwrap();
        log.descendant_key(0, Key::Category, "ps4".into(), 10);
        log.descendant_key(0, Key::Category, "second link".into(), 10);
        log.descendant_key(0, Key::Sku, "not over the item's own".into(), 10);
        log.descendant_key(other_plan, Key::Category, "another slot's".into(), 10);
        let second = log.record(Item::default(), 20).unwrap();
        log.end_item(second);
        log.descendant_key(0, Key::Category, "after its end tag".into(), 10);
        let third = log.record(Item::default(), 20).unwrap();
        log.descendant_key(0, Key::Sku, "s3".into(), 10);
        let keys = log.keys(serial, &[first, second, third]).unwrap();
        assert_eq!((keys[0].sku, keys[0].category), (Some("a"), Some("ps4")));
        assert_eq!((keys[1].sku, keys[1].category), (None, None));
        assert!(!keys[1].any());
        assert_eq!((keys[2].sku, keys[2].category), (Some("s3"), None));
        log.close_container();
        let serial = log.open_container(0, 30);
        log.record(Item::default(), 20).unwrap();
        log.descendant_key(0, Key::Sku, "x".into(), 20);
        assert!(
            log.keys(serial, &[0]).is_none(),
            "descendants count against the limit"
        );
    }
}
