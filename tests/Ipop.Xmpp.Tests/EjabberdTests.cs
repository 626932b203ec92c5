using System.Collections.Concurrent;
using Ipop.Lab.Servers;
using Microsoft.Extensions.Logging;

namespace Ipop.Xmpp.Tests;

/// <summary>
/// The XMPP server scenarios (befriending, messages, rooms with real JIDs, TLS trust and pinning)
/// against a real ejabberd, plus ejabberd specifics: the client stays within RFC 6120/6121 and
/// XEP-0045, so a second, independent server implementation must work unchanged.
/// </summary>
public sealed class EjabberdTests(EjabberdFixture ejabberd) : XmppServerTests(ejabberd), IClassFixture<EjabberdFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Login_uses_SCRAM_SHA_256_when_ejabberd_stores_sha256_keys()
    {
        string[] users = await ejabberd.RegisterAsync("scram", 1);
        var log = new CapturingLogger();
        await using var node = new XmppSignaling(ejabberd.Options(users[0]), log);
        await node.ConnectAsync(Ct);
        Assert.True(node.IsConnected);
        Assert.Contains(log.Lines, l => l.StartsWith($"XMPP session up as {node.LocalId.Value} (SCRAM-SHA-256, TLS True)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Login_falls_back_to_SCRAM_SHA_1_on_an_ejabberd_with_sha1_keys()
    {
        await using EjabberdServer sha1 = await EjabberdServer.StartAsync(new EjabberdServerOptions { ScramHash = "sha" }, Ct);
        await sha1.RegisterAsync("old", "pw-old", Ct);
        var log = new CapturingLogger();
        await using var node = new XmppSignaling(
            ejabberd.Options($"old@{sha1.Domain}", o =>
            {
                o.Port = sha1.Port;
                o.TrustedCaFile = sha1.CertificatePath;
            }),
            log);
        await node.ConnectAsync(Ct);
        Assert.True(node.IsConnected);
        Assert.Contains(log.Lines, l => l.StartsWith($"XMPP session up as {node.LocalId.Value} (SCRAM-SHA-1, TLS True)", StringComparison.Ordinal));

        await using var wrong = new XmppSignaling(ejabberd.Options($"old@{sha1.Domain}", o =>
        {
            o.Port = sha1.Port;
            o.TrustedCaFile = sha1.CertificatePath;
            o.Password = "wrong";
        }));
        XmppSignalingException ex = await Assert.ThrowsAsync<XmppSignalingException>(() => wrong.ConnectAsync(Ct));
        Assert.Equal(XmppErrorKind.Authentication, ex.Kind);
    }

    [Fact]
    public async Task Stored_friend_request_reaches_only_a_session_with_non_negative_priority()
    {
        // ejabberd (mod_roster) redelivers a subscription request that arrived while the contact was
        // offline only on available presence with priority >= 0; prosody does regardless. Hence
        // XmppSignalingOptions.PresencePriority (0 for accounts used only by Ipop nodes).
        string[] users = await ejabberd.RegisterAsync("prio", 2);
        (XmppSignaling a, SignalingProbe pa) = await ConnectAsync(users[0]);
        await using var _ = a;
        await a.RequestFriendshipAsync(users[1], Ct);
        await Task.Delay(200, Ct);

        (XmppSignaling negative, SignalingProbe pn) = await ConnectAsync(users[1]);
        await using var __ = negative;
        await Task.Delay(1000, Ct);
        Assert.Empty(pn.FriendRequests);

        (XmppSignaling zero, SignalingProbe pz) = await ConnectAsync(users[1], o => o.PresencePriority = 0);
        await using var ___ = zero;
        await SignalingProbe.WaitUntilAsync(() => pz.FriendRequests.Contains(users[0]), "the priority-0 session is asked");
    }

    /// <summary>Keeps formatted log lines, to see which SASL mechanism the session used.</summary>
    private sealed class CapturingLogger : ILogger<XmppSignaling>
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            => Lines.Enqueue(formatter(state, exception));
    }
}
