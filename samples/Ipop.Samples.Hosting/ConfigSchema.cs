using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace Ipop.Samples.Hosting;

/// <summary>
/// The option types a <see cref="StrictConfiguration"/> check may walk into: the root type and every object type reachable
/// from its properties. Each is added through a generic parameter annotated for the trimmer, so a Native AOT build keeps
/// exactly the property metadata the check reads (a type reached only through <c>PropertyInfo.PropertyType</c> would
/// have none). A property of an object type that was not added is a programmer error, reported on the first check in
/// the JIT build as much as in the AOT build.
/// </summary>
internal sealed class ConfigSchema
{
    private const DynamicallyAccessedMemberTypes Reflected = DynamicallyAccessedMemberTypes.PublicProperties;

    private readonly Dictionary<Type, Dictionary<string, PropertyInfo>> _types = [];

    private ConfigSchema(Type root) => Root = root;

    /// <summary>The type the checked section binds to.</summary>
    public Type Root { get; }

    /// <summary>A schema whose root is <typeparamref name="T"/>.</summary>
    public static ConfigSchema Of<[DynamicallyAccessedMembers(Reflected)] T>() => new ConfigSchema(typeof(T)).With<T>();

    /// <summary>Adds an object type reachable from the root (an item of a list, a nested section).</summary>
    public ConfigSchema With<[DynamicallyAccessedMembers(Reflected)] T>()
    {
        _types[typeof(T)] = Reflect(typeof(T));
        return this;
    }

    /// <summary>The keys of <paramref name="type"/> (case-insensitive, in declaration order), by their binder names.</summary>
    public Dictionary<string, PropertyInfo> Properties(Type type) =>
        _types.TryGetValue(type, out Dictionary<string, PropertyInfo>? properties)
            ? properties
            : throw new InvalidOperationException($"The configuration schema of {Root.Name} does not list {type.FullName}: add it with ConfigSchema.With<{type.Name}>().");

    /// <summary>The element type of a list-shaped option type (array, <c>List&lt;T&gt;</c>, <c>IList&lt;T&gt;</c>), else null.</summary>
    public static Type? ElementType(Type type)
    {
        if (type == typeof(string))
        {
            return null;
        }

        if (type.IsArray)
        {
            return type.GetElementType();
        }

        return type.IsGenericType && type.GetGenericArguments().Length == 1 && typeof(IEnumerable).IsAssignableFrom(type)
            ? type.GetGenericArguments()[0]
            : null;
    }

    /// <summary>The value type of a string-keyed dictionary option type, else null.</summary>
    public static Type? DictionaryValueType(Type type) =>
        type.IsGenericType && type.GetGenericArguments().Length == 2 && typeof(IEnumerable).IsAssignableFrom(type) && type.GetGenericArguments()[0] == typeof(string)
            ? type.GetGenericArguments()[1]
            : null;

    private static Dictionary<string, PropertyInfo> Reflect([DynamicallyAccessedMembers(Reflected)] Type type)
    {
        var map = new Dictionary<string, PropertyInfo>(StringComparer.OrdinalIgnoreCase);
        foreach (PropertyInfo p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.GetIndexParameters().Length == 0 && (p.CanWrite || ElementType(p.PropertyType) is not null || DictionaryValueType(p.PropertyType) is not null))
            {
                string name = p.GetCustomAttribute<ConfigurationKeyNameAttribute>()?.Name ?? p.Name;
                map.TryAdd(name, p);
            }
        }

        return map;
    }
}
