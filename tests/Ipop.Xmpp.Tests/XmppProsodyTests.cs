namespace Ipop.Xmpp.Tests;

/// <summary>The XMPP server scenarios against a real prosody.</summary>
public sealed class XmppProsodyTests(ProsodyFixture prosody) : XmppServerTests(prosody), IClassFixture<ProsodyFixture>;
