using Ipop.Lab;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Ipop.Tincan.Tests;

public sealed class TincanOptionsValidatorTests
{
    [Fact]
    public void Defaults_are_valid()
    {
        Assert.Empty(TincanOptionsValidator.Collect(new TincanOptions()));
    }

    [Fact]
    public void Mtu_message_names_the_key_and_value()
    {
        var e = Assert.Throws<OptionsValidationException>(() => TincanNode.Create(new TincanOptions { Mtu = 20 }));
        Assert.Contains("Tincan:Mtu must be between 576 and 9000, got 20", e.Failures);
    }

    [Fact]
    public void Every_bad_value_is_reported()
    {
        var options = new TincanOptions
        {
            ListenAddress = "not-an-ip",
            ListenPort = 70000,
            Mtu = 20,
            RekeyAfterTime = TimeSpan.Zero,
            RekeyAfterMessages = 0,
            KeepaliveInterval = TimeSpan.FromHours(2),
            HandshakeTimeout = TimeSpan.FromMilliseconds(1),
            HandshakeAttempts = 0,
            SocketBufferBytes = 10,
            UdpBatchSize = 0,
            PrivateKeyPath = " ",
        };
        options.StunServers.Add(new StunServerOptions { Host = "", Port = 3478 });
        options.StunServers.Add(new StunServerOptions { Host = "stun.lab.test", Port = 0 });
        options.TurnServers.Add(new TurnServerOptions { Host = "turn.lab.test", Username = "u" });
        options.TurnServers.Add(new TurnServerOptions { Host = "turn.lab.test", Username = "u", Password = "p", SharedSecret = "s" });
        options.TurnServers.Add(new TurnServerOptions { Host = "turn.lab.test", SharedSecret = "s" });
        Snapshot.Verify(string.Join('\n', TincanOptionsValidator.Collect(options)));
    }

    [Fact]
    public async Task AddTincan_registers_a_node_and_validates_options()
    {
        var services = new ServiceCollection();
        services.AddTincan(o => o.ListenAddress = "127.0.0.1");
        await using ServiceProvider provider = services.BuildServiceProvider();
        Assert.Same(TimeProvider.System, provider.GetRequiredService<TimeProvider>());
        ITincan tincan = provider.GetRequiredService<ITincan>();
        Assert.False(tincan.LocalKey.IsEmpty);

        var bad = new ServiceCollection();
        bad.AddTincan(o => o.Mtu = 1);
        await using ServiceProvider badProvider = bad.BuildServiceProvider();
        var e = Assert.Throws<OptionsValidationException>(() => badProvider.GetRequiredService<IOptions<TincanOptions>>().Value);
        Assert.Contains("Tincan:Mtu must be between 576 and 9000, got 1", e.Failures);
    }
}
