namespace Ipop.Xmpp;

/// <summary>Settings of an <see cref="XmppSignaling"/> node (bind from configuration section <c>XmppSignaling</c>).</summary>
public sealed class XmppSignalingOptions
{
    /// <summary>Our account as a bare JID, e.g. <c>alice@lab.test</c>.</summary>
    public string Jid { get; set; } = string.Empty;

    /// <summary>The account password (never logged).</summary>
    public string Password { get; set; } = string.Empty;

    /// <summary>Host name or IP address to connect to; when empty, the JID's domain is resolved through DNS SRV <c>_xmpp-client._tcp</c> (RFC 6120 §3.2) and then A/AAAA.</summary>
    public string? Server { get; set; }

    /// <summary>TCP port when <see cref="Server"/> is given or SRV gives nothing (default 5222).</summary>
    public int Port { get; set; } = 5222;

    /// <summary>Prefix of the resource we bind; a random suffix keeps several nodes of one user apart (default <c>ipop</c>).</summary>
    public string ResourcePrefix { get; set; } = "ipop";

    /// <summary>Refuse to authenticate unless STARTTLS succeeded (default true).</summary>
    public bool RequireTls { get; set; } = true;

    /// <summary>PEM file of CA certificates (or the server's self-signed certificate) to trust instead of the system store.</summary>
    public string? TrustedCaFile { get; set; }

    /// <summary>SHA-256 of the server certificate (hex, colons allowed): accept exactly that certificate, whatever signed it.</summary>
    public string? PinnedCertificateSha256 { get; set; }

    /// <summary>Allow SASL PLAIN when SCRAM is not offered; only ever over TLS (default false).</summary>
    public bool AllowPlainAuth { get; set; }

    /// <summary>How often an XEP-0199 ping checks the server; an unanswered ping within this interval drops the connection (default 30 s).</summary>
    public TimeSpan KeepaliveInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Bound on DNS + TCP + TLS + authentication of one connection attempt (default 15 s).</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>First reconnect delay; it doubles (with jitter) up to <see cref="ReconnectMaxDelay"/> (default 1 s).</summary>
    public TimeSpan ReconnectMinDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest reconnect delay (default 60 s).</summary>
    public TimeSpan ReconnectMaxDelay { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How subscription requests from other users are answered (default <see cref="FriendRequestPolicy.Ask"/>).</summary>
    public FriendRequestPolicy FriendRequestPolicy { get; set; } = FriendRequestPolicy.Ask;

    /// <summary>Bare JIDs accepted as friends under <see cref="FriendRequestPolicy.AcceptListed"/>.</summary>
    public IList<string> AcceptedFriends { get; } = new List<string>();

    /// <summary>Rooms (bare room JIDs, or names under <see cref="MucService"/>) to join on connect and after every reconnect.</summary>
    public IList<string> Groups { get; } = new List<string>();

    /// <summary>Multi-user chat service for group names without a domain (default <c>conference.&lt;domain&gt;</c>).</summary>
    public string? MucService { get; set; }

    /// <summary>Nickname in rooms (default <c>&lt;local part&gt;.&lt;resource&gt;</c>, unique per node).</summary>
    public string? Nickname { get; set; }

    /// <summary>
    /// Presence priority of Ipop sessions, -128..127 (RFC 6121 §4.7.2.3; default -1). Negative keeps
    /// chats sent to the bare JID, and offline messages, with IM clients of the same account
    /// (§8.5.2.1.1). ejabberd, though, hands a friend request that arrived while the account was
    /// offline only to a session with priority 0 or more, so with ejabberd and accounts used only by
    /// Ipop nodes set 0, or friend requests sent to an offline node are never seen by it.
    /// </summary>
    public int PresencePriority { get; set; } = -1;

    /// <summary>
    /// Largest inbound stanza in bytes (default 256 KiB). A larger one, like one nested too deep or not
    /// well-formed, is skipped without being buffered and counted in <see cref="XmppSignaling.SkippedStanzas"/>;
    /// the session goes on.
    /// </summary>
    public int MaxStanzaBytes { get; set; } = 256 * 1024;

    /// <summary>
    /// After a reconnect, how long peers known before the outage get to show up again before they are
    /// reported offline (default 60 s). Until then they keep their last known state, as they do during
    /// the outage. Other nodes reconnect to a restarted server up to one backoff step
    /// (<see cref="ReconnectMaxDelay"/>) later than we do, so shorter values make links to them flap.
    /// </summary>
    public TimeSpan PresenceSettleTime { get; set; } = TimeSpan.FromSeconds(60);
}
