using System.Text;
using Ipop.Lab;
using Ipop.Xmpp.Stanzas;

namespace Ipop.Xmpp.Tests.Stanzas;

/// <summary>The exact bytes we put on the wire, one snapshot for all builders.</summary>
public sealed class StanzaBuilderTests
{
    [Fact]
    public void Stanzas_we_send_match_the_snapshot()
    {
        var text = new StringBuilder();
        void Line(string name, string value) => text.Append(name).Append(": ").Append(value).Append('\n');
        Line("header", StanzaBuilder.StreamHeader("lab.test"));
        Line("auth", StanzaBuilder.SaslAuth("SCRAM-SHA-256", "biwsbj11c2VyLHI9YWJj"));
        Line("response", StanzaBuilder.SaslResponse("Yz1iaXdz"));
        Line("bind", StanzaBuilder.Serialize(StanzaBuilder.Bind("b1", "ipop-0a1b2c3d")));
        Line("session", StanzaBuilder.Serialize(StanzaBuilder.Session("s1")));
        Line("roster-get", StanzaBuilder.Serialize(StanzaBuilder.RosterGet("r1")));
        Line("roster-set", StanzaBuilder.Serialize(StanzaBuilder.RosterSet("r2", "bob@lab.test", remove: false, ["ipop"])));
        Line("roster-remove", StanzaBuilder.Serialize(StanzaBuilder.RosterSet("r3", "bob@lab.test", remove: true)));
        Line("iq-result", StanzaBuilder.Serialize(StanzaBuilder.IqResult("push1", null)));
        Line("iq-error", StanzaBuilder.Serialize(StanzaBuilder.IqError("q1", "x@lab.test/r", "cancel", "service-unavailable")));
        Line("presence", StanzaBuilder.Serialize(StanzaBuilder.InitialPresence()));
        Line("subscribe", StanzaBuilder.Serialize(StanzaBuilder.Subscription("bob@lab.test", "subscribe")));
        Line("message", StanzaBuilder.Serialize(StanzaBuilder.IpopMessage("m1", "bob@lab.test/ipop-1", new OverlayMessage("link-offer", "{\"a\":\"<&>\"}"))));
        Line("muc-join", StanzaBuilder.Serialize(StanzaBuilder.MucJoin("room@conference.lab.test/alice.ipop-1")));
        Line("muc-join-unmarked", StanzaBuilder.Serialize(StanzaBuilder.MucJoin("room@conference.lab.test/alice.ipop-1", marker: false)));
        Line("disco-info", StanzaBuilder.Serialize(StanzaBuilder.DiscoInfo("d1", "room@conference.lab.test")));
        Line("muc-member-list", StanzaBuilder.Serialize(StanzaBuilder.MucAffiliationList("l1", "room@conference.lab.test", "member")));
        Line("muc-leave", StanzaBuilder.Serialize(StanzaBuilder.MucLeave("room@conference.lab.test/alice.ipop-1")));
        Line("muc-configure", StanzaBuilder.Serialize(StanzaBuilder.MucConfigure("c1", "room@conference.lab.test", membersOnly: true, persistent: true)));
        Line("muc-member", StanzaBuilder.Serialize(StanzaBuilder.MucAffiliation("a1", "room@conference.lab.test", "bob@lab.test", "member")));
        Line("ping", StanzaBuilder.Serialize(StanzaBuilder.Ping("p1", "lab.test")));
        Line("presence-announced", StanzaBuilder.Serialize(StanzaBuilder.InitialPresence(-1, "198.19.0.2 <&>")));
        Line("muc-join-announced", StanzaBuilder.Serialize(StanzaBuilder.MucJoin("room@conference.lab.test/alice.ipop-1", marker: true, "198.19.0.2")));
        Line("muc-presence-announced", StanzaBuilder.Serialize(StanzaBuilder.MucPresence("room@conference.lab.test/alice.ipop-1", "198.19.0.2")));
        Line("muc-presence-withdrawn", StanzaBuilder.Serialize(StanzaBuilder.MucPresence("room@conference.lab.test/alice.ipop-1", null)));
        Snapshot.Verify(text.ToString());
    }
}
