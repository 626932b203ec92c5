namespace Ipop.Tincan.Stun;

/// <summary>STUN and TURN methods (RFC 8489 section 18.2, RFC 8656 section 17).</summary>
internal enum StunMethod : ushort
{
    Binding = 0x001,
    Allocate = 0x003,
    Refresh = 0x004,
    Send = 0x006,
    Data = 0x007,
    CreatePermission = 0x008,
    ChannelBind = 0x009,
}
