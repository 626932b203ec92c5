namespace Ipop.Lab.Namespaces;

/// <summary>The NAT behaviours the lab builds with iptables (see TESTING.md).</summary>
public enum NatKind
{
    /// <summary>MASQUERADE: endpoint-independent mapping, so hole punching works.</summary>
    Cone,

    /// <summary>MASQUERADE --random-fully: a new port per destination, so only a relay works.</summary>
    Symmetric,

    /// <summary>Cone mapping plus a stateful filter: only established/related traffic may enter.</summary>
    ConeFiltered,
}
