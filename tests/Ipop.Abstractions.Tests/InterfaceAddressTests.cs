using System.Net;

namespace Ipop.Tests;

public sealed class InterfaceAddressTests
{
    [Theory]
    [InlineData("198.19.0.1/16", "198.19.0.1", 16, "198.19.0.0/16")]
    [InlineData("2001:2::1/64", "2001:2::1", 64, "2001:2::/64")]
    [InlineData("198.19.3.4", "198.19.3.4", 32, "198.19.3.4/32")]
    public void Parses_address_and_prefix(string text, string address, int prefix, string network)
    {
        InterfaceAddress a = InterfaceAddress.Parse(text);
        Assert.Equal(IPAddress.Parse(address), a.Address);
        Assert.Equal(prefix, a.PrefixLength);
        Assert.Equal(network, a.Network.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("198.19.0.1/33")]
    [InlineData("2001:2::1/129")]
    [InlineData("198.19.0/24")]
    [InlineData("198.19.0.1/-1")]
    public void Rejects_malformed_text(string text)
    {
        FormatException e = Assert.Throws<FormatException>(() => InterfaceAddress.Parse(text));
        Assert.Contains("Expected an IP address with prefix length", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Node_public_key_parse_rejects_wrong_length_with_message()
    {
        FormatException e = Assert.Throws<FormatException>(() => NodePublicKey.Parse("AAAA"));
        Assert.Contains("base64 of 32 bytes", e.Message, StringComparison.Ordinal);
    }
}
