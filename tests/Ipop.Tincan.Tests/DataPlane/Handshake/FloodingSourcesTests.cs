using System.Net;
using Ipop.Tincan.DataPlane.Handshake;
using Microsoft.Extensions.Time.Testing;

namespace Ipop.Tincan.Tests.DataPlane.Handshake;

/// <summary>Issue 13: which addresses the kernel filter lists, and when it lets them go.</summary>
public sealed class FloodingSourcesTests
{
    private static SocketAddress Address(string ip, int port = 5000) => new IPEndPoint(IPAddress.Parse(ip), port).Serialize();

    [Fact]
    public void An_address_is_listed_at_a_thousand_unproven_initiations_in_a_second_and_another_is_not()
    {
        var time = new FakeTimeProvider();
        var sources = new FloodingSources(time);
        for (int i = 0; i < FloodingSources.BlockPerSecond - 1; i++)
        {
            Assert.False(sources.Observe(Address("198.18.2.3", 1000 + (i % 7))));
            Assert.False(sources.Observe(Address("198.18.2.4")));
        }

        // 999 from 198.18.2.4 in a second, then the window ends: it starts again from zero.
        Assert.True(sources.Observe(Address("198.18.2.3")));
        Assert.Equal([IPAddress.Parse("198.18.2.3")], sources.Addresses());
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(sources.Observe(Address("198.18.2.4")));
        Assert.Equal(1, sources.Listed);
    }

    [Fact]
    public void A_listed_address_stays_while_its_sample_shows_the_rate_and_goes_when_it_does_not()
    {
        var time = new FakeTimeProvider();
        var sources = new FloodingSources(time);
        for (int i = 0; i < FloodingSources.BlockPerSecond; i++)
        {
            sources.Observe(Address("2001:2::3"));
        }

        Assert.Equal(1, sources.Listed);

        // The filter lets one in 256 through: 4 a second is the rate of 1,024 a second, still a flood.
        for (int second = 0; second < 3; second++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            for (int i = 0; i < 4; i++)
            {
                Assert.False(sources.Observe(Address("2001:2::3")));
            }
        }

        // Three samples in a second are below the rate: the next window's first sample unlists it.
        time.Advance(TimeSpan.FromSeconds(1));
        for (int i = 0; i < 3; i++)
        {
            Assert.False(sources.Observe(Address("2001:2::3")));
        }

        Assert.Equal(1, sources.Listed);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(sources.Observe(Address("2001:2::3")));
        Assert.Equal(0, sources.Listed);
    }

    [Fact]
    public void A_flooder_that_went_quiet_is_unlisted_by_the_sweep()
    {
        var time = new FakeTimeProvider();
        var sources = new FloodingSources(time);
        for (int i = 0; i < FloodingSources.BlockPerSecond; i++)
        {
            sources.Observe(new IPEndPoint(IPAddress.Parse("198.18.2.3").MapToIPv6(), 4000).Serialize());
        }

        // Keyed as IPv4 also when a dual-stack socket reports it IPv4-mapped, because the filter matches IPv4 packets.
        Assert.Equal([IPAddress.Parse("198.18.2.3")], sources.Addresses());
        time.Advance(TimeSpan.FromSeconds(1.5));
        Assert.False(sources.Sweep());
        time.Advance(TimeSpan.FromSeconds(0.5));
        Assert.True(sources.Sweep());
        Assert.Empty(sources.Addresses());
        Assert.False(sources.Sweep());
    }

    [Fact]
    public void At_most_sixteen_addresses_are_listed()
    {
        var time = new FakeTimeProvider();
        var sources = new FloodingSources(time);
        for (int a = 1; a <= 20; a++)
        {
            for (int i = 0; i < FloodingSources.BlockPerSecond; i++)
            {
                sources.Observe(Address($"198.18.3.{a}"));
            }
        }

        Assert.Equal(FloodSocketFilter.MaxAddresses, sources.Listed);
    }
}
