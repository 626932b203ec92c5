namespace Ipop.Tap.Offload;

/// <summary>Test hook: makes device creation behave as if the kernel refused part of the offload setup, to exercise each fallback.</summary>
[Flags]
internal enum OffloadFault
{
    /// <summary>Behave as the kernel says.</summary>
    None = 0,

    /// <summary>Pretend every TUNSETOFFLOAD returned EINVAL: the vnet header stays, but every packet is GSO_NONE.</summary>
    SetOffloadFails = 1,

    /// <summary>Pretend TUNSETOFFLOAD with TUN_F_USO4/6 returned EINVAL (a kernel before 6.2): TSO only.</summary>
    UsoMissing = 2,

    /// <summary>Pretend TUNSETVNETHDRSZ returned EINVAL: offloads stay off and the header keeps the kernel's default size (10), all GSO_NONE.</summary>
    VnetHeaderSizeFails = 4,
}
