using Ipop.Xmpp.Xml;

namespace Ipop.Xmpp.Tests.Xml;

public sealed class JidTests
{
    [Theory]
    [InlineData("Alice@Lab.Test/Res", "alice", "lab.test", "Res")]
    [InlineData("lab.test", null, "lab.test", null)]
    [InlineData("room@conference.lab.test/nick/with/slash", "room", "conference.lab.test", "nick/with/slash")]
    public void Valid_jids_are_split_and_folded(string text, string? local, string domain, string? resource)
    {
        Assert.True(Jid.TryParse(text, out Jid jid));
        Assert.Equal(local, jid.Local);
        Assert.Equal(domain, jid.Domain);
        Assert.Equal(resource, jid.Resource);
    }

    [Theory]
    [InlineData("")]
    [InlineData("@lab.test")]
    [InlineData("a@")]
    [InlineData("a@lab.test/")]
    [InlineData("a b@lab.test")]
    [InlineData("a@b@c")]
    public void Invalid_jids_are_refused(string text) => Assert.False(Jid.TryParse(text, out _));
}
