namespace Ipop.Tincan.Stun;

/// <summary>
/// Packs and unpacks the 14-bit message type: the method's 12 bits are interleaved with the two class
/// bits C0 (bit 4) and C1 (bit 8), RFC 8489 section 5 figure 3.
/// </summary>
internal static class StunMessageType
{
    public static ushort Encode(StunMethod method, StunMessageClass messageClass)
    {
        int m = (int)method;
        int c = (int)messageClass;
        return (ushort)((m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | ((c & 1) << 4) | ((c & 2) << 7));
    }

    public static StunMethod GetMethod(ushort type) =>
        (StunMethod)((type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2));

    public static StunMessageClass GetClass(ushort type) =>
        (StunMessageClass)(((type >> 4) & 1) | ((type >> 7) & 2));
}
