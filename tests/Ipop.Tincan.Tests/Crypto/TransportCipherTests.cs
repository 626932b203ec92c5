using Ipop.Tincan.Crypto;
using NSec.Cryptography;

namespace Ipop.Tincan.Tests.Crypto;

public sealed class TransportCipherTests
{
    private static readonly byte[] KeyBytes = Hex.Bytes("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");

    [Fact]
    public void Seal_and_open_in_place_round_trip()
    {
        using Key key = TransportCipher.ImportKey(KeyBytes);
        byte[] header = [7, 0, 0, 0, 1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 0, 0];
        byte[] buffer = new byte[100 + 16];
        for (int i = 0; i < 100; i++)
        {
            buffer[i] = (byte)i;
        }

        byte[] original = buffer[..100];
        TransportCipher.Seal(key, 5, header, buffer.AsSpan(0, 100), buffer);
        Assert.NotEqual(original, buffer[..100]);
        Assert.True(TransportCipher.Open(key, 5, header, buffer, buffer.AsSpan(0, 100)));
        Assert.Equal(original, buffer[..100]);
    }

    [Fact]
    public void Tampered_ciphertext_tag_header_or_counter_fails()
    {
        using Key key = TransportCipher.ImportKey(KeyBytes);
        byte[] header = new byte[16];
        byte[] sealedPacket = new byte[40 + 16];
        TransportCipher.Seal(key, 9, header, new byte[40], sealedPacket);

        for (int i = 0; i < sealedPacket.Length; i++)
        {
            byte[] t = (byte[])sealedPacket.Clone();
            t[i] ^= 0x04;
            Assert.False(TransportCipher.Open(key, 9, header, t, new byte[40]), $"byte {i}");
        }

        byte[] otherHeader = new byte[16];
        otherHeader[1] = 1;
        Assert.False(TransportCipher.Open(key, 9, otherHeader, sealedPacket, new byte[40]));
        Assert.False(TransportCipher.Open(key, 10, header, sealedPacket, new byte[40]));
        Assert.False(TransportCipher.Open(key, 9, header, sealedPacket.AsSpan(0, 10), new byte[40]));
        Assert.True(TransportCipher.Open(key, 9, header, sealedPacket, new byte[40]));
    }
}
