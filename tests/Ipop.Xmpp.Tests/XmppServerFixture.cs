namespace Ipop.Xmpp.Tests;

/// <summary>One private XMPP server (prosody or ejabberd) shared by the tests of a class; accounts are unique per test.</summary>
public abstract class XmppServerFixture : IAsyncLifetime
{
    private int _next;

    /// <summary>The XMPP domain.</summary>
    public abstract string Domain { get; }

    /// <summary>The MUC service domain.</summary>
    public abstract string MucDomain { get; }

    /// <summary>The server's temp directory (tests may drop files there).</summary>
    public abstract string Directory { get; }

    /// <summary>SHA-256 of the server certificate (hex), for pinning.</summary>
    public abstract string CertificateSha256 { get; }

    protected abstract string Address { get; }

    protected abstract int Port { get; }

    protected abstract string CertificatePath { get; }

    public abstract ValueTask InitializeAsync();

    public abstract ValueTask DisposeAsync();

    protected abstract Task RegisterUserAsync(string user, string password);

    /// <summary>Kills the server (a crash).</summary>
    public abstract Task StopServerAsync();

    /// <summary>Starts the killed server again with its data.</summary>
    public abstract Task StartServerAgainAsync(CancellationToken cancellationToken);

    /// <summary>Freezes the server (SIGSTOP).</summary>
    public abstract Task PauseServerAsync();

    /// <summary>Thaws the server (SIGCONT).</summary>
    public abstract Task ResumeServerAsync();

    /// <summary>Registers fresh accounts named after <paramref name="prefix"/>; returns their bare JIDs.</summary>
    public async Task<string[]> RegisterAsync(string prefix, int count)
    {
        var users = new string[count];
        for (int i = 0; i < count; i++)
        {
            string user = $"{prefix}{Interlocked.Increment(ref _next)}";
            await RegisterUserAsync(user, "pw-" + user);
            users[i] = $"{user}@{Domain}";
        }

        return users;
    }

    public XmppSignalingOptions Options(string jid, Action<XmppSignalingOptions>? configure = null)
    {
        var options = new XmppSignalingOptions
        {
            Jid = jid,
            Password = "pw-" + jid.Split('@')[0],
            Server = Address,
            Port = Port,
            TrustedCaFile = CertificatePath,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            ReconnectMinDelay = TimeSpan.FromMilliseconds(200),
            ReconnectMaxDelay = TimeSpan.FromSeconds(2),
            KeepaliveInterval = TimeSpan.FromSeconds(5),
            FriendRequestPolicy = FriendRequestPolicy.Ask,
        };
        configure?.Invoke(options);
        return options;
    }

    /// <summary>
    /// Creates a members-only group owned by a fresh account, as its owner would with <c>groupvpn members add</c>,
    /// and adds <paramref name="members"/>; returns the owner's bare JID.
    /// </summary>
    public async Task<string> CreateGroupAsync(string room, params string[] members)
    {
        string owner = (await RegisterAsync("owner", 1))[0];
        await using var node = new XmppSignaling(Options(owner));
        await node.ConnectAsync(CancellationToken.None);
        foreach (string member in members)
        {
            await node.AddGroupMemberAsync(room, member, CancellationToken.None);
        }

        return owner;
    }
}
