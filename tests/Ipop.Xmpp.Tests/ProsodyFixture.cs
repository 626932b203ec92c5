using Ipop.Testing.Servers;

namespace Ipop.Xmpp.Tests;

/// <summary>One private prosody shared by the tests of a class; accounts are unique per test.</summary>
public sealed class ProsodyFixture : IAsyncLifetime
{
    private int _next;

    public ProsodyServer Server { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Server = await ProsodyServer.StartAsync();

    public async ValueTask DisposeAsync() => await Server.DisposeAsync();

    /// <summary>Registers fresh accounts named after <paramref name="prefix"/>; returns their bare JIDs.</summary>
    public async Task<string[]> RegisterAsync(string prefix, int count)
    {
        var users = new string[count];
        for (int i = 0; i < count; i++)
        {
            string user = $"{prefix}{Interlocked.Increment(ref _next)}";
            await Server.RegisterAsync(user, "pw-" + user);
            users[i] = $"{user}@{Server.Domain}";
        }

        return users;
    }

    public XmppSignalingOptions Options(string jid, Action<XmppSignalingOptions>? configure = null)
    {
        var options = new XmppSignalingOptions
        {
            Jid = jid,
            Password = "pw-" + jid.Split('@')[0],
            Server = Server.Address,
            Port = Server.Port,
            TrustedCaFile = Server.CertificatePath,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            ReconnectMinDelay = TimeSpan.FromMilliseconds(200),
            ReconnectMaxDelay = TimeSpan.FromSeconds(2),
            KeepaliveInterval = TimeSpan.FromSeconds(5),
            FriendRequestPolicy = FriendRequestPolicy.Ask,
        };
        configure?.Invoke(options);
        return options;
    }
}
