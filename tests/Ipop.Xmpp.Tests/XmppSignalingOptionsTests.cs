using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Ipop.Xmpp.Tests;

public sealed class XmppSignalingOptionsTests
{
    private static XmppSignalingOptions Valid() => new() { Jid = "alice@lab.test", Password = "pw" };

    [Fact]
    public void Valid_options_pass() => Assert.Empty(XmppSignalingOptionsValidator.Check(Valid()));

    [Theory]
    [InlineData("Jid", "Xmpp:Jid")]
    [InlineData("Password", "Xmpp:Password")]
    [InlineData("Port", "Xmpp:Port")]
    [InlineData("Plain", "Xmpp:AllowPlainAuth")]
    [InlineData("Pin", "Xmpp:PinnedCertificateSha256")]
    [InlineData("Ca", "Xmpp:TrustedCaFile")]
    [InlineData("Keepalive", "Xmpp:KeepaliveInterval")]
    [InlineData("Reconnect", "Xmpp:ReconnectMinDelay")]
    [InlineData("Group", "Xmpp:Groups")]
    [InlineData("Friend", "Xmpp:AcceptedFriends")]
    [InlineData("Muc", "Xmpp:MucService")]
    [InlineData("Priority", "Xmpp:PresencePriority")]
    [InlineData("Settle", "Xmpp:PresenceSettleTime")]
    [InlineData("SettleLong", "Xmpp:PresenceSettleTime")]
    public void Each_invalid_key_is_named_in_the_message(string what, string key)
    {
        XmppSignalingOptions o = Valid();
        switch (what)
        {
            case "Jid": o.Jid = "alice@lab.test/res"; break;
            case "Password": o.Password = string.Empty; break;
            case "Port": o.Port = 70000; break;
            case "Plain": o.AllowPlainAuth = true; o.RequireTls = false; break;
            case "Pin": o.PinnedCertificateSha256 = "abc"; break;
            case "Ca": o.TrustedCaFile = "/nonexistent/ca.pem"; break;
            case "Keepalive": o.KeepaliveInterval = TimeSpan.Zero; break;
            case "Reconnect": o.ReconnectMinDelay = TimeSpan.FromMinutes(5); o.ReconnectMaxDelay = TimeSpan.FromSeconds(1); break;
            case "Group": o.Groups.Add("room@conf/nick"); break;
            case "Friend": o.AcceptedFriends.Add("not a jid"); break;
            case "Muc": o.MucService = "x@conference"; break;
            case "Priority": o.PresencePriority = 128; break;
            case "Settle": o.PresenceSettleTime = TimeSpan.FromSeconds(-1); break;
            case "SettleLong": o.PresenceSettleTime = TimeSpan.FromHours(2); break;
        }

        string error = Assert.Single(XmppSignalingOptionsValidator.Check(o));
        Assert.StartsWith(key, error, StringComparison.Ordinal);
        Assert.Throws<OptionsValidationException>(() => new XmppSignaling(o));
    }

    [Fact]
    public async Task AddXmppSignaling_registers_the_signaling_and_validates_the_options()
    {
        var services = new ServiceCollection();
        services.AddXmppSignaling(o => { o.Jid = "alice@lab.test"; o.Password = "pw"; o.Groups.Add("lab"); });
        await using ServiceProvider provider = services.BuildServiceProvider();
        IOverlaySignaling signaling = provider.GetRequiredService<IOverlaySignaling>();
        Assert.Same(provider.GetRequiredService<XmppSignaling>(), signaling);
        Assert.Equal("alice@lab.test", signaling.LocalUser);
        Assert.StartsWith("alice@lab.test/ipop-", signaling.LocalId.Value, StringComparison.Ordinal);
        Assert.False(signaling.IsConnected);

        var bad = new ServiceCollection();
        bad.AddXmppSignaling(o => o.Jid = "nope");
        using ServiceProvider badProvider = bad.BuildServiceProvider();
        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => badProvider.GetRequiredService<IOptions<XmppSignalingOptions>>().Value);
        Assert.Contains("Xmpp:Jid", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sending_while_disconnected_is_an_invalid_operation_and_bad_messages_are_refused()
    {
        await using var node = new XmppSignaling(Valid());
        await Assert.ThrowsAsync<InvalidOperationException>(() => node.SendAsync(new PeerId("bob@lab.test/ipop-1"), new OverlayMessage("link-offer", "x"), TestContext.Current.CancellationToken));
        await Assert.ThrowsAsync<ArgumentException>(() => node.SendAsync(new PeerId("bob@lab.test/ipop-1"), new OverlayMessage("bad kind!", "x"), TestContext.Current.CancellationToken));
        await Assert.ThrowsAsync<ArgumentException>(() => node.SendAsync(new PeerId("bob@lab.test/ipop-1"), new OverlayMessage("k", new string('x', OverlayMessage.MaxBodyLength + 1)), TestContext.Current.CancellationToken));
        await Assert.ThrowsAsync<ArgumentException>(() => node.SendAsync(new PeerId("bob@lab.test"), new OverlayMessage("k", "x"), TestContext.Current.CancellationToken));
    }

    [Fact]
    public void Backoff_grows_exponentially_with_jitter_and_is_capped()
    {
        XmppSignalingOptions o = Valid();
        o.ReconnectMinDelay = TimeSpan.FromSeconds(1);
        o.ReconnectMaxDelay = TimeSpan.FromSeconds(30);
        var node = new XmppSignaling(o);
        for (int i = 0; i < 50; i++)
        {
            TimeSpan first = node.Backoff(0);
            Assert.InRange(first, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(1));
            Assert.InRange(node.Backoff(3), TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(8));
            Assert.InRange(node.Backoff(40), TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(30));
        }
    }
}
