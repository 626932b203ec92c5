namespace Ipop.Tap.Tests;

public sealed class PacketCrafterTests
{
    [Fact]
    public void Checksum_matches_the_rfc1071_example()
    {
        // RFC 1071 section 3: the one's complement sum of these bytes is 0xddf2.
        Assert.Equal(0x220d, PacketCrafter.Checksum(Convert.FromHexString("0001f203f4f5f6f7")));
    }

    [Fact]
    public void Checksum_of_a_header_including_its_checksum_is_zero()
    {
        byte[] header = Convert.FromHexString("4500001c00000000400100 00c6130002c6130001".Replace(" ", "", StringComparison.Ordinal));
        ushort sum = PacketCrafter.Checksum(header);
        header[10] = (byte)(sum >> 8);
        header[11] = (byte)sum;

        Assert.Equal(0, PacketCrafter.Checksum(header));
    }
}
