fn main() {
    println!("{}", shared::greet());
}
