namespace Ipop.Tincan.Tests;

public sealed class TincanOptionsStatePathTests
{
    [Theory]
    [InlineData(" ", "Tincan:StatePath must be a file path or absent, got ' '")]
    [InlineData("/var/lib/ipop/", "Tincan:StatePath must be a file path or absent, got '/var/lib/ipop/'")]
    [InlineData("/etc/ipop/node.key", "Tincan:StatePath must not be the key file (Tincan:PrivateKeyPath), got '/etc/ipop/node.key'")]
    public void A_bad_state_path_is_reported_with_the_key_and_value(string path, string expected)
    {
        var options = new TincanOptions { PrivateKeyPath = "/etc/ipop/node.key", StatePath = path };
        Assert.Contains(expected, TincanOptionsValidator.Collect(options));
    }

    [Fact]
    public void A_state_path_beside_the_key_file_is_valid()
    {
        Assert.Empty(TincanOptionsValidator.Collect(new TincanOptions { PrivateKeyPath = "/etc/ipop/node.key", StatePath = "/var/lib/ipop/state" }));
    }
}
