namespace Ipop.Tincan.Stun;

/// <summary>First-byte demultiplexing of the shared UDP socket (RFC 7983 section 7).</summary>
internal enum DatagramKind
{
    /// <summary>0-3: STUN (requests, responses, indications).</summary>
    Stun,

    /// <summary>64-79: TURN ChannelData (RFC 8656 section 12.4: channel numbers 0x4000-0x4FFF).</summary>
    ChannelData,

    /// <summary>Anything else: Ipop's own protocol (or garbage).</summary>
    Other,
}

internal static class DatagramClassifier
{
    public static DatagramKind Classify(ReadOnlySpan<byte> datagram)
    {
        if (datagram.IsEmpty)
        {
            return DatagramKind.Other;
        }

        byte first = datagram[0];
        return first <= 3 ? DatagramKind.Stun : first is >= 64 and <= 79 ? DatagramKind.ChannelData : DatagramKind.Other;
    }
}
