using Ipop.Xmpp.Connection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Ipop.Xmpp.Tests;

/// <summary>
/// A foreign account on a real prosody sends hostile stanzas to one of our nodes: whatever the server
/// relays is skipped or dropped, and the node's session never goes down.
/// </summary>
public sealed class XmppHostileStanzaTests(ProsodyFixture prosody) : IClassFixture<ProsodyFixture>
{
    private const string Probe = "<ipop xmlns='urn:ipop:signaling:1' kind='probe'>x</ipop>";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Nest(int depth) => string.Concat(Enumerable.Repeat("<a xmlns='urn:x'>", depth)) + string.Concat(Enumerable.Repeat("</a>", depth));

    /// <summary>Each case is the inside of a message to the node (with a <c>{to}</c> placeholder where the whole stanza is given).</summary>
    public static TheoryData<string, string, string> Cases => new()
    {
        // name, stanza ({to} is the node's full JID), what we require. prosody 0.12 itself refuses the
        // malformed ones (and closes the sender's stream); whatever a server does relay of them must be skipped.
        { "nested-40", $"<message to='{{to}}' type='chat'>{Probe}<body>{Nest(40)}</body></message>", "skipped" },
        { "nested-1000", $"<message to='{{to}}' type='chat'>{Probe}<body>{Nest(1000)}</body></message>", "skipped" },
        { "huge-200KiB", $"<message to='{{to}}' type='chat'>{Probe}<body>{new string('x', 200 * 1024)}</body></message>", "skipped" },
        { "undefined-entity", $"<message to='{{to}}' type='chat'>{Probe}<body>&unknown;</body></message>", "refused-or-skipped" },
        { "billion-laughs", $"<message to='{{to}}' type='chat'><!DOCTYPE lolz [<!ENTITY lol 'lol'><!ENTITY lol2 '&lol;&lol;&lol;&lol;&lol;'>]>{Probe}<body>&lol2;</body></message>", "refused-or-skipped" },
        { "nul-char-ref", $"<message to='{{to}}' type='chat'>{Probe}<body>&#0;</body></message>", "refused-or-skipped" },
        { "unbound-prefix", $"<message to='{{to}}' type='chat'>{Probe}<p:x/></message>", "refused-or-skipped" },
        { "xml-prefix-rebound", $"<message to='{{to}}' type='chat' xmlns:xml='urn:evil'>{Probe}</message>", "refused-or-skipped" },
        { "stream-error-inside", $"<message to='{{to}}' type='chat'>{Probe}<x xmlns:stream='http://etherx.jabber.org/streams'><stream:error><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></x></message>", "parsed" },
        { "streams-namespace-stanza", $"<message xmlns='http://etherx.jabber.org/streams' to='{{to}}' type='chat'>{Probe}</message>", "refused-or-skipped" },
        { "default-namespace-games", $"<message to='{{to}}' type='chat'><ipop xmlns='urn:ipop:signaling:1' kind='probe' xmlns:c='jabber:client'><c:message><c:body>inner</c:body></c:message></ipop></message>", "parsed" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_hostile_stanza_from_a_foreign_account_never_ends_the_session(string name, string stanza, string required)
    {
        string[] users = await prosody.RegisterAsync("hostile", 3);
        string room = "hostile" + Guid.NewGuid().ToString("N")[..6];
        await prosody.CreateGroupAsync(room, users[0], users[1]); // users[2], the foreign account, is not a member
        await using var alice = new XmppSignaling(prosody.Options(users[0], o =>
        {
            o.Groups.Add(room);
            o.MaxStanzaBytes = 64 * 1024;
        }));
        await using var bob = new XmppSignaling(prosody.Options(users[1], o => o.Groups.Add(room)));
        var pa = new SignalingProbe(alice);
        await alice.ConnectAsync(Ct);
        await bob.ConnectAsync(Ct);
        await SignalingProbe.WaitUntilAsync(() => pa.SeesOnline(bob.LocalId, PeerRelationship.GroupMember), "alice sees bob in the room");

        // The foreign account speaks raw XML through our own connection class. A ping after the hostile
        // stanza tells when prosody has handled it (relayed it, or refused it and closed mallory's stream).
        string fate;
        await using (XmppConnection raw = await XmppConnection.OpenAsync(prosody.Options(users[2]), "raw", NullLogger.Instance, TimeProvider.System, null, Ct))
        {
            await raw.SendRawAsync(stanza.Replace("{to}", alice.LocalId.Value, StringComparison.Ordinal) + "<iq type='get' id='sync1'><ping xmlns='urn:xmpp:ping'/></iq>", Ct);
            fate = await PingAnsweredAsync(raw).WaitAsync(TimeSpan.FromSeconds(10), Ct);
        }

        // Bob's message goes after everything prosody relayed from mallory on alice's stream.
        await bob.SendAsync(alice.LocalId, new OverlayMessage("link-offer", "after " + name), Ct);
        await SignalingProbe.WaitUntilAsync(() => pa.Messages.Any(m => m.Message.Body == "after " + name), "bob's message after the hostile stanza reaches alice");

        // A relayed probe payload that parses is dropped (mallory is a stranger); one that does not is skipped.
        long parsed = alice.DroppedMessages;
        long skipped = alice.SkippedStanzas;
        string outcome = skipped > 0 ? "skipped" : parsed > 0 ? "parsed" : "not relayed";
        TestContext.Current.SendDiagnosticMessage($"{name}: {outcome} (skipped {skipped}, parsed {parsed}; mallory: {fate})");
        Console.WriteLine($"HOSTILE-CASE {name}: {outcome}; mallory: {fate}");
        if (required == "refused-or-skipped")
        {
            Assert.NotEqual("parsed", outcome);
        }
        else
        {
            Assert.Equal(required, outcome);
        }

        Assert.InRange(skipped + parsed, 0, 1);
        Assert.True(alice.IsConnected);
        Assert.Single(pa.ConnectionEvents); // Connected once, never lost.
    }

    private static async Task<string> PingAnsweredAsync(XmppConnection raw)
    {
        try
        {
            for (int i = 0; i < 100; i++)
            {
                System.Xml.Linq.XElement? element = await raw.ReadAsync();
                if (element is null)
                {
                    return "stream closed by prosody";
                }

                if ((string?)element.Attribute("id") == "sync1")
                {
                    return "still connected";
                }
            }

            return "no answer to the ping";
        }
        catch (Exception ex) when (ex is XmppSignalingException or IOException or EndOfStreamException or Ipop.Xmpp.Xml.XmppXmlException)
        {
            return "refused: " + ex.Message;
        }
    }
}
