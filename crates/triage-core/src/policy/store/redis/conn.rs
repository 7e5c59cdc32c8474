//! How the Redis store reaches Redis, from the one `redis_url`:
//!
//! * `redis://`, `rediss://`, `unix://`: one server (as before);
//! * `redis+sentinel://[user[:password]@]host:port[,host:port…]/master[/db]`: the master
//!   that the listed Sentinels name, asked again on every new connection, so that after a
//!   failover the store follows the promoted replica (`?sentinel_password=` when the
//!   Sentinels require one; the password in front is the master's);
//! * `redis+cluster://[user[:password]@]host:port[,host:port…]`: a Redis Cluster, seeded
//!   from the listed nodes; keys are routed by hash slot, and every key of one
//!   conversation carries the same hash tag so its Lua script and lock run on one node.
//!
//! The topology code is the redis crate's (`sentinel`, `cluster` features); this file only
//! parses the URL and gives the store one connection type.

use crate::cause::Detail;
use percent_encoding::percent_decode_str;
use redis::cluster::{ClusterClient, ClusterConnection};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{Cmd, Connection, ConnectionAddr, ConnectionLike, RedisResult, Value};
use std::sync::Mutex;
use std::time::Duration;

/// Where the store's Redis is, as the URL says; checked without connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// One server; the URL as the redis crate reads it.
    Single(String),
    Sentinel {
        sentinels: Vec<(String, u16)>,
        master: String,
        username: Option<String>,
        password: Option<String>,
        db: i64,
        sentinel_password: Option<String>,
    },
    Cluster {
        nodes: Vec<(String, u16)>,
        username: Option<String>,
        password: Option<String>,
    },
}

const SENTINEL: &str = "redis+sentinel://";
const CLUSTER: &str = "redis+cluster://";

fn decode(s: &str) -> Result<String, String> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|e| format!("bad percent-encoding: {e}"))
}

/// `user:password@` (both optional, percent-encoded) before the host list.
fn credentials(auth: &str) -> Result<(Option<String>, Option<String>), String> {
    let (user, pass) = match auth.split_once(':') {
        Some((u, p)) => (u, Some(p)),
        None => (auth, None),
    };
    let user = Some(decode(user)?).filter(|u| !u.is_empty());
    let pass = pass.map(decode).transpose()?.filter(|p| !p.is_empty());
    Ok((user, pass))
}

/// `host:port,host:port`; a host without a port gets `default_port`. IPv6 hosts go in
/// brackets (`[::1]:26379`).
fn hosts(list: &str, default_port: u16) -> Result<Vec<(String, u16)>, String> {
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|h| !h.is_empty()) {
        let (host, port) = if let Some(rest) = item.strip_prefix('[') {
            let (h, tail) = rest
                .split_once(']')
                .ok_or_else(|| format!("unclosed '[' in host {item:?}"))?;
            (h, tail.strip_prefix(':'))
        } else {
            match item.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (item, None),
            }
        };
        if host.is_empty() {
            return Err(format!("empty host in {item:?}"));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| format!("bad port {p:?} in host {item:?}"))?,
            None => default_port,
        };
        out.push((host.to_string(), port));
    }
    if out.is_empty() {
        return Err("no host listed".into());
    }
    Ok(out)
}

impl Target {
    fn parse(url: &str) -> Result<Self, Detail> {
        let url = url.trim();
        let lower = url.to_ascii_lowercase();
        let (scheme_len, sentinel) = if lower.starts_with(SENTINEL) {
            (SENTINEL.len(), true)
        } else if lower.starts_with(CLUSTER) {
            (CLUSTER.len(), false)
        } else {
            // Checked here so that a bad URL stops start-up, as it did before.
            redis::Client::open(url).map_err(Detail::of)?;
            return Ok(Self::Single(url.to_string()));
        };
        let rest = &url[scheme_len..];
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match rest.split_once('/') {
            Some((a, p)) => (a, p),
            None => (rest, ""),
        };
        let (auth, host_list) = match authority.rsplit_once('@') {
            Some((a, h)) => (Some(a), h),
            None => (None, authority),
        };
        let (username, password) = match auth {
            Some(a) => credentials(a)?,
            None => (None, None),
        };
        let mut sentinel_password = None;
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            match pair.split_once('=') {
                Some(("sentinel_password", v)) if sentinel => {
                    sentinel_password = Some(decode(v)?).filter(|p| !p.is_empty())
                }
                _ => return Err(format!("unknown query parameter {pair:?}").into()),
            }
        }
        if sentinel {
            let mut parts = path.split('/').filter(|p| !p.is_empty());
            let master = parts
                .next()
                .map(decode)
                .transpose()?
                .ok_or("the master name is missing (redis+sentinel://host:26379/mymaster)")?;
            let db = match parts.next() {
                Some(d) => d
                    .parse::<i64>()
                    .map_err(|_| format!("bad database number {d:?}"))?,
                None => 0,
            };
            if parts.next().is_some() {
                return Err("path after the database number".into());
            }
            Ok(Self::Sentinel {
                sentinels: hosts(host_list, 26379)?,
                master,
                username,
                password,
                db,
                sentinel_password,
            })
        } else {
            if !path.trim_matches('/').is_empty() {
                return Err(
                    "a cluster has no database number: nothing may follow the hosts".into(),
                );
            }
            Ok(Self::Cluster {
                nodes: hosts(host_list, 6379)?,
                username,
                password,
            })
        }
    }
}

/// The clients that open connections of one topology.
pub(crate) enum Topology {
    Single(redis::Client),
    /// `SentinelClient` asks the Sentinels and caches its connections to them: one at a
    /// time.
    Sentinel(Mutex<SentinelClient>),
    Cluster(ClusterClient),
}

impl Topology {
    /// The clients for `url`, with every connection's connect, read and write timeout
    /// `timeout`. Nothing is contacted.
    pub(crate) fn open(url: &str, timeout: Duration) -> Result<Self, Detail> {
        match Target::parse(url)? {
            Target::Single(url) => redis::Client::open(url)
                .map(Self::Single)
                .map_err(Detail::of),
            Target::Sentinel {
                sentinels,
                master,
                username,
                password,
                db,
                sentinel_password,
            } => {
                let addrs = sentinels
                    .into_iter()
                    .map(|(h, p)| ConnectionAddr::Tcp(h, p));
                let mut b = SentinelClientBuilder::new(addrs, master, SentinelServerType::Master)
                    .map_err(Detail::of)?
                    .set_client_to_redis_db(db);
                if let Some(u) = username {
                    b = b.set_client_to_redis_username(u);
                }
                if let Some(p) = password {
                    b = b.set_client_to_redis_password(p);
                }
                if let Some(p) = sentinel_password {
                    b = b.set_client_to_sentinel_password(p);
                }
                let client = b.build().map_err(Detail::of)?;
                Ok(Self::Sentinel(Mutex::new(client)))
            }
            Target::Cluster {
                nodes,
                username,
                password,
            } => {
                let seeds: Vec<String> = nodes
                    .iter()
                    .map(|(h, p)| match h.contains(':') {
                        true => format!("redis://[{h}]:{p}/"),
                        false => format!("redis://{h}:{p}/"),
                    })
                    .collect();
                // Few, short retries: a store call must stay within a few timeouts (the
                // turn goes on without memory rather than wait for a resharding).
                let mut b = ClusterClient::builder(seeds)
                    .connection_timeout(timeout)
                    .response_timeout(timeout)
                    .retries(2)
                    .min_retry_wait(10)
                    .max_retry_wait(100);
                if let Some(u) = username {
                    b = b.username(u);
                }
                if let Some(p) = password {
                    b = b.password(p);
                }
                b.build().map(Self::Cluster).map_err(Detail::of)
            }
        }
    }

    /// Whether keys must share hash tags to be used together (Lua scripts, pipelines).
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// A new connection with `timeout` on connect, reads and writes. Through Sentinel the
    /// master is asked for every new connection, so after a failover (the old
    /// connections fail and are dropped) the next one reaches the promoted replica.
    pub(crate) fn connect(&self, timeout: Duration) -> RedisResult<Conn> {
        let single = |client: &redis::Client| -> RedisResult<Conn> {
            let conn = client.get_connection_with_timeout(timeout)?;
            conn.set_read_timeout(Some(timeout))?;
            conn.set_write_timeout(Some(timeout))?;
            Ok(Conn::Single(conn))
        };
        match self {
            Self::Single(client) => single(client),
            Self::Sentinel(sentinel) => {
                let client = sentinel
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_client()?;
                single(&client)
            }
            Self::Cluster(cluster) => Ok(Conn::Cluster(Box::new(cluster.get_connection()?))),
        }
    }
}

/// A connection of any topology; `Commands` and pipelines work on it.
pub(crate) enum Conn {
    Single(Connection),
    Cluster(Box<ClusterConnection>),
}

impl ConnectionLike for Conn {
    fn req_packed_command(&mut self, cmd: &[u8]) -> RedisResult<Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> RedisResult<Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(cmd, offset, count),
            Self::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn req_command(&mut self, cmd: &Cmd) -> RedisResult<Value> {
        match self {
            Self::Single(c) => c.req_command(cmd),
            Self::Cluster(c) => c.req_command(cmd),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }

    /// True for a cluster too: the cluster connection sends a pipeline (or a MULTI
    /// transaction) to the node of its first command's key, and every pipeline of the
    /// store touches one key or keys of one hash tag.
    fn supports_pipelining(&self) -> bool {
        true
    }

    fn check_connection(&mut self) -> bool {
        match self {
            Self::Single(c) => c.check_connection(),
            Self::Cluster(c) => c.check_connection(),
        }
    }

    fn is_open(&self) -> bool {
        match self {
            Self::Single(c) => c.is_open(),
            Self::Cluster(c) => c.is_open(),
        }
    }
}

/// `id` made a hash tag (`{#id}`) so that every key of one conversation lands in one
/// Cluster slot. Redis hashes the text between the first `{` and the next `}` when it is
/// not empty (else the whole key): the key's part before the tag holds no brace (prefix,
/// tenant and kind are checked or fixed), and the `#` keeps the tag from being empty when
/// `id` starts with `}`, so whatever braces `id` holds, all its keys hash the same text.
pub(crate) fn tagged(id: &str) -> String {
    format!("{{#{id}}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_urls_stay_single() {
        assert_eq!(
            Target::parse("redis://127.0.0.1:6379/2").unwrap(),
            Target::Single("redis://127.0.0.1:6379/2".into())
        );
        assert!(Target::parse("http://nope").is_err());
    }

    #[test]
    fn sentinel_url_lists_hosts_master_password_and_db() {
        let t = Target::parse(
            "redis+sentinel://:p%40ss@s1:26379,s2,[::1]:26380/mymaster/3?sentinel_password=x",
        )
        .unwrap();
        assert_eq!(
            t,
            Target::Sentinel {
                sentinels: vec![
                    ("s1".into(), 26379),
                    ("s2".into(), 26379),
                    ("::1".into(), 26380)
                ],
                master: "mymaster".into(),
                username: None,
                password: Some("p@ss".into()),
                db: 3,
                sentinel_password: Some("x".into()),
            }
        );
        let plain = Target::parse("REDIS+SENTINEL://a:1/m").unwrap();
        assert!(
            matches!(plain, Target::Sentinel { ref master, db: 0, password: None, .. } if master == "m")
        );
    }

    #[test]
    fn bad_sentinel_and_cluster_urls_say_why() {
        for (url, why) in [
            ("redis+sentinel://a:1", "master name"),
            ("redis+sentinel://a:1/", "master name"),
            ("redis+sentinel://a:x/m", "bad port"),
            ("redis+sentinel:///m", "no host"),
            ("redis+sentinel://a:1/m/x", "database"),
            ("redis+sentinel://a:1/m?foo=1", "unknown query"),
            ("redis+cluster://a:1/0", "no database"),
            ("redis+cluster://", "no host"),
            ("redis+cluster://a:1?sentinel_password=x", "unknown query"),
        ] {
            let e = Target::parse(url).unwrap_err();
            assert!(e.contains(why), "{url}: {e}");
        }
    }

    #[test]
    fn cluster_url_lists_seed_nodes() {
        assert_eq!(
            Target::parse("redis+cluster://u:pw@n1:7000,n2:7001,n3").unwrap(),
            Target::Cluster {
                nodes: vec![
                    ("n1".into(), 7000),
                    ("n2".into(), 7001),
                    ("n3".into(), 6379)
                ],
                username: Some("u".into()),
                password: Some("pw".into()),
            }
        );
        assert!(
            Topology::open("redis+cluster://n1:7000", Duration::from_millis(50))
                .unwrap()
                .is_cluster()
        );
        assert!(
            !Topology::open("redis+sentinel://n1:1/m", Duration::from_millis(50))
                .unwrap()
                .is_cluster()
        );
    }

    /// The part of a key Redis Cluster hashes (its "hash tag" rule): the text between the
    /// first `{` and the next `}` when that is not empty, else the whole key.
    fn hashed(key: &str) -> &str {
        if let Some(open) = key.find('{') {
            if let Some(len) = key[open + 1..].find('}') {
                if len > 0 {
                    return &key[open + 1..open + 1 + len];
                }
            }
        }
        key
    }

    #[test]
    fn tags_share_one_slot_whatever_braces_the_id_holds() {
        // Ids are never empty (`classify::check_conversation_id`): `{}` would not be a tag.
        for id in ["c1", "a{b", "a}b", "{x}", "}{", "}", "t\u{1f}id"] {
            let conv = format!("triage:conv:{}", tagged(id));
            let lock = format!("triage:lock:{}", tagged(id));
            let fb = format!("triage:t:acme:feedback:{}", tagged(id));
            assert_eq!(hashed(&conv), hashed(&lock), "{id}");
            assert_eq!(hashed(&conv), hashed(&fb), "{id}");
            assert_ne!(hashed(&conv), conv, "{id}");
        }
        assert_ne!(
            hashed(&format!("p:conv:{}", tagged("a"))),
            hashed(&format!("p:conv:{}", tagged("b")))
        );
    }
}
