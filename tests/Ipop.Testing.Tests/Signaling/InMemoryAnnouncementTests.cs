namespace Ipop.Testing.Tests.Signaling;

/// <summary>Presence announcements (<see cref="IOverlaySignaling.SetAnnouncementAsync"/>) on the in-memory network.</summary>
public sealed class InMemoryAnnouncementTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_group_member_sees_another_members_announcement_and_each_change_of_it()
    {
        var network = new InMemorySignalingNetwork();
        await using InMemorySignaling a = network.CreateNode("a@lab.test");
        await using InMemorySignaling b = network.CreateNode("b@lab.test");
        await using InMemorySignaling stranger = network.CreateNode("s@lab.test");
        var pa = new SignalingProbe(a);
        var ps = new SignalingProbe(stranger);
        await a.ConnectAsync(Ct);
        await b.ConnectAsync(Ct);
        await stranger.ConnectAsync(Ct);
        await a.JoinGroupAsync("lab", Ct);
        await b.SetAnnouncementAsync("v4=198.18.5.2", Ct);
        await b.JoinGroupAsync("lab", Ct);
        await network.WhenDeliveredAsync();
        Assert.Equal("v4=198.18.5.2", pa.LastSeen(b.LocalId)?.Announcement);

        await b.SetAnnouncementAsync("v4=198.18.5.3", Ct);
        await network.WhenDeliveredAsync();
        Assert.Equal("v4=198.18.5.3", pa.LastSeen(b.LocalId)?.Announcement);
        Assert.Null(ps.LastSeen(b.LocalId)); // not a member, not a friend: sees nothing of B

        await b.SetAnnouncementAsync(null, Ct);
        await network.WhenDeliveredAsync();
        Assert.Null(pa.LastSeen(b.LocalId)?.Announcement);
    }

    [Theory]
    [InlineData("tab\there", "character 3 is U+0009")]
    [InlineData("caf\u00e9", "character 3 is U+00E9")]
    public async Task An_announcement_outside_printable_ascii_is_refused_naming_the_character(string text, string expected)
    {
        var network = new InMemorySignalingNetwork();
        await using InMemorySignaling a = network.CreateNode("a@lab.test");
        ArgumentException e = await Assert.ThrowsAsync<ArgumentException>(() => a.SetAnnouncementAsync(text, Ct));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.Null(a.Announcement);
    }

    [Fact]
    public void An_announcement_longer_than_the_limit_is_refused_with_both_lengths()
    {
        Assert.Null(IOverlaySignaling.CheckAnnouncement(new string('x', IOverlaySignaling.MaxAnnouncementLength)));
        Assert.Equal("an announcement holds at most 512 characters, this one 513", IOverlaySignaling.CheckAnnouncement(new string('x', 513)));
    }
}
