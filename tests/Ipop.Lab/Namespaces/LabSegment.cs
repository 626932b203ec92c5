namespace Ipop.Lab.Namespaces;

/// <summary>A layer-2 segment: a Linux bridge living in its own namespace, to which hosts attach with veth pairs.</summary>
public sealed class LabSegment
{
    internal LabSegment(LabNamespace owner, string prefix)
    {
        Owner = owner;
        Prefix = prefix;
    }

    /// <summary>The namespace holding the bridge <c>br0</c>.</summary>
    public LabNamespace Owner { get; }

    /// <summary>The IPv4 prefix used on this segment (documentation for tests, e.g. <c>198.18.0.0/24</c>).</summary>
    public string Prefix { get; }

    internal int NextPort { get; set; }
}
