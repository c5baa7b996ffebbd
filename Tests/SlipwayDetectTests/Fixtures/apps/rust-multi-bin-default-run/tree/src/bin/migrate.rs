fn main() {
    println!("migrating");
}
