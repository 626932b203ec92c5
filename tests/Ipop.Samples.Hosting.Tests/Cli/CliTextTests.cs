using Ipop.Samples.Hosting.Cli;
using Ipop.Lab;

namespace Ipop.Samples.Hosting.Tests.Cli;

/// <summary>The human output of each command, from fixed data: what a user reads must change only on purpose.</summary>
public sealed class CliTextTests
{
    [Fact]
    public void Status_shows_the_node_and_each_peers_link()
    {
        var w = new StringWriter();
        CliText.Status(w, CliFixtures.Status());
        Snapshot.Verify(w.ToString());
    }

    [Fact]
    public void Peers_show_path_pair_rtt_traffic_and_handshake_age()
    {
        var w = new StringWriter();
        CliText.Peers(w, CliFixtures.Peers());
        Snapshot.Verify(w.ToString());
    }

    [Fact]
    public void Peers_without_any_say_so()
    {
        var w = new StringWriter();
        CliText.Peers(w, []);
        Assert.Equal("no peers\n", w.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Why_a_relayed_link_names_the_failed_direct_checks()
    {
        var w = new StringWriter();
        CliText.Why(w, CliFixtures.RelayedBehindSymmetricNat());
        Snapshot.Verify(w.ToString());
    }

    [Fact]
    public void Why_a_failed_link_gives_the_last_failure_and_each_pairs_numbers()
    {
        var w = new StringWriter();
        CliText.Why(w, CliFixtures.NeverConnected());
        Snapshot.Verify(w.ToString());
    }

    [Fact]
    public void Why_a_direct_link_has_nothing_to_explain()
    {
        var w = new StringWriter();
        CliText.Why(w, CliFixtures.Direct());
        Snapshot.Verify(w.ToString());
    }

    [Fact]
    public void Why_a_static_peer_says_no_checks_ran()
    {
        var w = new StringWriter();
        CliText.Why(w, CliFixtures.StaticPeer());
        Snapshot.Verify(w.ToString());
    }

    [Fact]
    public void Netcheck_names_the_mapping_in_plain_words_and_each_servers_latency()
    {
        var w = new StringWriter();
        CliText.NetCheck(w, CliFixtures.NetCheck());
        Snapshot.Verify(w.ToString());
    }

    [Fact]
    public void Ping_prints_each_replys_path_and_the_upgrade_to_direct()
    {
        var relayed = new PingView("bob", true, 3.25, "relayed", CliFixtures.AliceRelay, CliFixtures.BobSrflx, "198.18.0.3:3478", null);
        var direct = new PingView("bob", true, 0.75, "direct", CliFixtures.AliceHost, CliFixtures.BobSrflx, null, null);
        var lost = new PingView("bob", false, null, "relayed", CliFixtures.AliceRelay, CliFixtures.BobSrflx, "198.18.0.3:3478", "no reply within 2 s");
        string text = string.Join('\n',
            CliText.PingLine(relayed),
            CliText.PingLine(lost),
            CliText.PingLine(relayed),
            CliText.PathChange(relayed, direct, 3),
            CliText.PingLine(direct),
            CliText.PingSummary("bob", 4, [3.25, 3.25, 0.75]));
        Snapshot.Verify(text);
    }

    [Theory]
    [InlineData(null, "never")]
    [InlineData(0.4, "0s ago")]
    [InlineData(185.0, "3m5s ago")]
    [InlineData(7322.0, "2h2m ago")]
    public void Ages_read_like_a_clock(double? seconds, string expected) => Assert.Equal(expected, CliText.Age(seconds));
}
